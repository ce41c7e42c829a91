"""Checkpoints: a pytree of arrays and a small JSON of metadata, written atomically.

A checkpoint in a folder is two files: `checkpoint-STEP.eqx` (the arrays, through
`eqx.tree_serialise_leaves`) and `checkpoint.json` (the metadata, naming the array file and its
SHA-256). Each is written to a temporary file in the same folder, flushed to disk and renamed into
place; the metadata is written last. A process killed at any moment therefore leaves either the
previous checkpoint or the new one, never a mixture: until the new `checkpoint.json` replaces the
old, the old one names the old array file, which is deleted only afterwards.

Also here: the fingerprint digests a solver compares before resuming (`digest`,
`check_fingerprint`), and `GracefulInterrupt`, which turns the first Ctrl-C of a run into a
request to save and stop.
"""

import dataclasses
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree


METADATA = "checkpoint.json"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another configuration."""


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _serialise_leaf(f, x: Any) -> None:
    if _is_key(x):
        x = jax.random.key_data(x)
    eqx.default_serialise_filter_spec(f, x)


def _deserialise_leaf(f, x: Any) -> Any:
    if _is_key(x):
        data = jnp.load(f)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    return eqx.default_deserialise_filter_spec(f, x)


def _write_synced(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a synced temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(directory: str | os.PathLike, tree: PyTree, metadata: dict[str, Any]) -> Path:
    """Write `tree` and `metadata` as the checkpoint of `directory`, atomically.

    The arrays go to `checkpoint-STEP.eqx` (STEP from `metadata["step"]`, else 0) and the
    metadata to `checkpoint.json`, each through a synced temporary file and a rename, the
    metadata last; older array files are removed once the new metadata is in place. A kill at
    any point leaves the previous checkpoint or this one readable, never a broken one.

    **Arguments:**

    - `directory`: the folder (created if missing).
    - `tree`: a pytree whose array leaves (JAX or NumPy arrays, NumPy scalars, PRNG keys) are
      saved; other leaves are not saved and come from the template when loading.
    - `metadata`: a JSON-serialisable dict.

    **Returns:** the path of `checkpoint.json`.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    step = int(metadata.get("step", 0))
    name = f"checkpoint-{step:09d}.eqx"
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree, filter_spec=_serialise_leaf)
    data = buffer.getvalue()
    _write_synced(folder / name, data)
    record = {
        **metadata,
        "format": FORMAT,
        "arrays": name,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    record["metadata_sha256"] = _metadata_sha256(record)
    _write_synced(folder / METADATA, (json.dumps(record, indent=1) + "\n").encode())
    _sync_folder(folder)
    for old in folder.glob("checkpoint-*.eqx"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return folder / METADATA


def checkpoint_metadata(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The metadata of the checkpoint in `directory`, or `None` if it holds none.

    **Arguments:**

    - `directory`: a folder written by [`pinnkit.save_checkpoint`][].

    **Returns:** the dict given to `save_checkpoint`, with `format`, `arrays` (the array
    file's name) and `sha256` added; `None` when there is no `checkpoint.json`.
    """
    path = Path(directory) / METADATA
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read checkpoint metadata {path}: {error}") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pinnkit checkpoint (format {FORMAT})")
    # Checkpoints written before the metadata had a checksum carry none.
    if "metadata_sha256" in record and record["metadata_sha256"] != _metadata_sha256(record):
        raise CheckpointError(
            f"{path} does not match its own checksum: it was edited or damaged after it was "
            "written. Restore it, or start over without resuming"
        )
    return record


def _metadata_sha256(record: dict[str, Any]) -> str:
    """The checksum of a metadata record, over everything but the checksum itself."""
    rest = {k: v for k, v in record.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def load_checkpoint(
    directory: str | os.PathLike, template: PyTree
) -> tuple[PyTree, dict[str, Any]]:
    """Read the checkpoint of `directory` into the structure of `template`.

    **Arguments:**

    - `directory`: a folder written by [`pinnkit.save_checkpoint`][].
    - `template`: a pytree of the same structure, shapes and dtypes as the saved one (e.g. a
      freshly initialised state, or its `jax.eval_shape`); its non-array leaves are kept.

    **Returns:** `(tree, metadata)`.

    Raises `CheckpointError` (a `ValueError`) when there is no checkpoint, when its array file is
    missing or does not match its recorded checksum, or when the shapes or dtypes differ
    from the template's.
    """
    folder = Path(directory)
    metadata = checkpoint_metadata(folder)
    if metadata is None:
        raise CheckpointError(f"no checkpoint in {folder} (no {METADATA})")
    path = folder / metadata["arrays"]
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"cannot read the checkpoint arrays {path}: {error}") from error
    if hashlib.sha256(data).hexdigest() != metadata["sha256"]:
        raise CheckpointError(f"{path} does not match the checksum in {folder / METADATA}")
    try:
        tree = eqx.tree_deserialise_leaves(
            io.BytesIO(data), template, filter_spec=_deserialise_leaf
        )
    except Exception as error:
        raise CheckpointError(
            f"the checkpoint in {folder} does not fit the expected structure: {error}"
        ) from error
    _check_like(tree, template, folder)
    return tree, metadata


def _check_like(tree: PyTree, template: PyTree, folder: Path) -> None:
    def one(path, x, t):
        if not (hasattr(t, "shape") and hasattr(t, "dtype")) or _is_key(t):
            return
        shape, dtype = np.shape(x), np.asarray(x).dtype
        if shape != tuple(t.shape) or dtype != np.dtype(t.dtype):
            where = jax.tree_util.keystr(path)
            raise CheckpointError(
                f"the checkpoint in {folder} holds {where} with shape {shape} and dtype "
                f"{dtype}, expected {tuple(t.shape)} and {np.dtype(t.dtype)}: "
                "it was written by a different configuration"
            )

    jax.tree_util.tree_map_with_path(one, tree, template)


def digest(tree: PyTree, *, values: bool) -> str:
    """A short digest of the layout of `tree` (paths, shapes, dtypes, leaf types) and, with
    `values`, of the values of its arrays."""
    h = hashlib.sha256()
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    h.update(str(treedef.num_leaves).encode())
    for path, leaf in leaves:
        h.update(jax.tree_util.keystr(path).encode())
        if _is_key(leaf):
            leaf = jax.random.key_data(leaf)
        if eqx.is_array_like(leaf) or isinstance(leaf, jax.ShapeDtypeStruct):
            h.update(f"{tuple(leaf.shape)}{np.dtype(leaf.dtype)}".encode())
            if values and not isinstance(leaf, jax.ShapeDtypeStruct):
                h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
        else:
            h.update(type(leaf).__qualname__.encode())
    return h.hexdigest()[:16]


def module_types(tree: PyTree) -> str:
    """A short digest of the classes of the Equinox modules in `tree`, nested, with their
    static fields of plain values: a loss of another PDE class, or the same class with
    another static setting, gives another digest where `digest` alone may not."""
    h = hashlib.sha256()

    def visit(node: Any) -> None:
        parts = jax.tree_util.tree_leaves(
            node, is_leaf=lambda x: x is not node and isinstance(x, eqx.Module)
        )
        for part in parts:
            if not isinstance(part, eqx.Module):
                continue
            h.update(f"{type(part).__module__}.{type(part).__qualname__}(".encode())
            for field in dataclasses.fields(part):
                value = getattr(part, field.name, None)
                if field.metadata.get("static") and isinstance(value, str | int | float | bool):
                    h.update(f"{field.name}={value!r},".encode())
            visit(part)
            h.update(b")")

    visit(tree)
    return h.hexdigest()[:16]


def check_fingerprint(folder: Path, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """Raise a `CheckpointError` naming every entry (and every `config` setting) in which
    the fingerprint `saved` with a checkpoint in `folder` differs from `now`."""
    saved, now = dict(saved), dict(now)
    # A `config` setting at None counts as unset, so that an option added after a checkpoint
    # was written (its default None) does not block resuming it.
    saved_config, now_config = saved.pop("config", None) or {}, now.pop("config", None) or {}
    # An entry the checkpoint lacks was added to fingerprints after it was written: unchecked.
    differ = [
        (name, saved.get(name), now.get(name))
        for name in sorted(set(saved) | set(now))
        if name in saved and saved.get(name) != now.get(name)
    ]
    differ += [
        (f"config[{name!r}]", saved_config.get(name), now_config.get(name))
        for name in sorted(set(saved_config) | set(now_config))
        if saved_config.get(name) != now_config.get(name)
    ]
    if differ:
        details = ", ".join(f"{name} (checkpoint: {a!r}, now: {b!r})" for name, a, b in differ)
        raise CheckpointError(
            f"cannot resume from the checkpoint in {folder}: it was written by a different "
            f"configuration; what differs: {details}. Resume with the same settings, or use "
            "another checkpoint folder (or resume=False to start over)."
        )


class GracefulInterrupt:
    """Within the block, the first SIGINT sets `requested` instead of raising; the default
    handler is back for a second one. Only installed in the main thread, and only over
    Python's default handler."""

    def __init__(self):
        self.requested = False
        self._installed = False

    def _handler(self, signum, frame):
        del signum, frame
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print(
            "\npinnkit: interrupt received; stopping after the current chunk of steps and "
            "saving a checkpoint (press Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> "GracefulInterrupt":
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
