"""Shared fixtures: fresh PRNG keys and float64 where precision is the point.

The test run asks XLA's CPU backend for its lowest LLVM optimisation level (before JAX
creates its backend, and inherited by the subprocesses the tests start). The tests compile
hundreds of small functions and run each only a few times, so compile time dominates:
measured on this suite's 2-core machine, `tests/test_solver.py` went from 47 to 34 CPU s and
a compile-heavy subset of `tests/test_stochastic.py` from 70 to 42. The numerics are IEEE
either way (XLA's CPU backend does not enable fast-math); only speed differs.
"""

import os
import signal


_FAST_COMPILE = "--xla_backend_optimization_level=0"
if _FAST_COMPILE not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()

import jax  # noqa: E402  (after XLA_FLAGS: JAX reads them when it creates its backend)
import pytest  # noqa: E402


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


@pytest.fixture
def ctrl_c():
    """Ctrl-C raises KeyboardInterrupt in this process, as in an interactive session, even when
    the test run was started with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop JAX's compiled programs (and the memory they hold) after each test module: a
    worker of `pytest -n 2` runs some 600 tests in one process, and twice on 2026-12-05 one
    crashed inside XLA's compile of a small program late in the suite (cause not yet found)."""
    yield
    jax.clear_caches()
