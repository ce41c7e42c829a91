"""`pinnkit solve --block-size B`: a weight-shared first layer from the command line."""

import json

import equinox as eqx
import jax
import pytest

from pinnkit import SharedFirstLayerMLP
from pinnkit.cli import main


def _solve(tmp_path, *extra):
    argv = "solve poisson-two-body --dim 6 --steps 4 --batch 4 --width 8 --depth 1"
    args = [*argv.split(), "--test-size", "20", "--no-progress", "--out", str(tmp_path), *extra]
    return main(args)


def test_block_size_is_used_and_recorded(tmp_path):
    assert _solve(tmp_path / "shared", "--block-size", "3") == 0
    result = json.loads((tmp_path / "shared" / "result.json").read_text())
    assert result["config"]["block_size"] == 3 and result["steps"] == 4
    # The checkpoint holds the shared map (3 weights + 1 bias) and an MLP on 2 features,
    # so it only loads into a HardDirichlet(SharedFirstLayerMLP(6, 3, 8, 1)).
    from pinnkit.problems import get_problem

    problem = get_problem("poisson-two-body", 6, jax.random.key(0))
    like = problem.network(jax.random.key(1), width=8, depth=1, block_size=3)
    loaded = eqx.tree_deserialise_leaves(tmp_path / "shared" / "network.eqx", like)
    assert isinstance(loaded.network, SharedFirstLayerMLP)
    assert loaded.network.mlp.layers[0].weight.shape == (8, 2)


@pytest.mark.parametrize(
    "block, message",
    [
        ("4", "--block-size must divide the network's 6 inputs, got 4"),
        ("0", "--block-size must be an integer >= 1, got 0"),
    ],
)
def test_block_size_must_divide_dim(block, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _solve(tmp_path, "--block-size", block)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "result.json").exists()
