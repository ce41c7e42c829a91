"""Data-parallel training over a `jax.sharding.Mesh`: the training state replicated on every
device, each batch split along its leading axis."""

import equinox as eqx
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import PyTree


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Copy every array of `tree` onto every device of `mesh`. Each process passes the same
    values (as a host-local array), so this also works when the mesh spans several processes,
    where `jax.device_put` cannot reach the other processes' devices."""
    replicated = NamedSharding(mesh, PartitionSpec())
    dynamic, static = eqx.partition(tree, eqx.is_array)
    dynamic = jax.jit(lambda x: x, out_shardings=replicated)(dynamic)
    return eqx.combine(dynamic, static)


def split_batch(batch: PyTree, mesh: Mesh) -> PyTree:
    """Constrain every array of `batch` with a leading axis to be split along that axis across
    all the devices of `mesh`; scalars are replicated. Also checks the shapes, so it can be
    called on `jax.eval_shape` output.
    """
    devices = mesh.size
    split = NamedSharding(mesh, PartitionSpec(mesh.axis_names))
    replicated = NamedSharding(mesh, PartitionSpec())

    def one(path, x):
        if not hasattr(x, "shape"):
            return x
        if x.ndim == 0:
            sharding = replicated
        elif x.shape[0] % devices:
            where = jax.tree_util.keystr(path) or "the batch"
            raise ValueError(
                f"data-parallel training over {devices} devices needs every batch size to be "
                f"divisible by {devices}, but {where} from loss.sample has {x.shape[0]} rows; "
                f"choose a batch_size that is a multiple of {devices}, or a mesh with fewer "
                "devices"
            )
        else:
            sharding = split
        if isinstance(x, jax.ShapeDtypeStruct):
            return x
        return jax.lax.with_sharding_constraint(x, sharding)

    return jax.tree_util.tree_map_with_path(one, batch)
