"""Argument checks of the samplers, at their boundaries: the message names the argument and
the value, and the smallest valid value is accepted."""

import jax.numpy as jnp
import pytest
from helpers import rejects

import pinnkit as pk


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(space_dim=0, t1=1.0), "space_dim must be a positive integer, got 0"),
        (dict(space_dim=2.0, t1=1.0), "space_dim must be a positive integer, got 2.0"),
        (dict(space_dim=2, t1=1.0, t0=-0.5), "t0 must be >= 0, got -0.5"),
        (dict(space_dim=2, t1=1.0, time=-1.0), "time must be >= 0, got -1.0"),
        (dict(space_dim=2, t1=1.0, origin=jnp.zeros(3)), r"shape \(2,\), got \(3,\)"),
    ],
)
def test_brownian_rejects_bad_arguments(kwargs, match):
    with rejects(match):
        pk.Brownian(**kwargs)


def test_brownian_accepts_the_smallest_valid_values():
    brownian = pk.Brownian(1, 1.0, t0=0.0, time=0.0, origin=jnp.zeros(1))
    assert brownian.dim == 2 and brownian.time == 0.0


def test_cylinder_names_a_space_that_is_not_a_sampler():
    from helpers import no_typecheck

    with no_typecheck(), pytest.raises(TypeError, match="AbstractSampler, got Ball"):
        pk.CylinderSampler(pk.Ball(2), 0.0, 1.0)  # type: ignore[arg-type]
