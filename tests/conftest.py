"""Shared fixtures: fresh PRNG keys and float64 where precision is the point."""

import jax
import pytest


@pytest.fixture
def getkey():
    """A function returning a fresh PRNG key on every call (deterministic within a test)."""
    state = [jax.random.key(1234)]

    def _getkey():
        state[0], key = jax.random.split(state[0])
        return key

    return _getkey


@pytest.fixture
def x64():
    """Run the test in float64 without leaking the setting into other tests."""
    with jax.enable_x64(True):
        yield
