"""A faster PRNG for drawing collocation points on the CPU: XLA's Threefry bit generator.

`jax.random`'s default implementation (`threefry2x32`) computes its bits with JAX's own
Threefry kernel. On XLA's CPU backend that kernel is several times slower than XLA's
`RngBitGenerator` running the same Threefry-2x32 algorithm, and at large dimension drawing the
points is a large share of a training step (docs/benchmarks.md has the measurements). The
implementation below is `jax.random`'s `"rbg"` design with the generator's algorithm set to
Threefry instead of the backend's default (Philox on the CPU, which is no faster there):

- a key is four 32-bit words, two `threefry2x32` keys side by side;
- `split` and `fold_in` apply `threefry2x32`'s own `split` and `fold_in` to each half, so keys
  derived from one another are as independent as `threefry2x32` keys are;
- `random_bits` is `lax.rng_bit_generator(key, shape, algorithm=RNG_THREE_FRY)`, whose 128-bit
  state is the whole key (a 64-bit Threefry key and a 64-bit starting counter).

Every `jax.random` function (`normal`, `uniform`, `choice`, `permutation`, ...) works with such
keys and draws its bits this way. As with `"rbg"`, XLA does not promise the same bits on every
backend or in every XLA version; the draws are deterministic for one installation and device.
"""

import jax
import jax.numpy as jnp
from jax.extend.random import define_prng_impl

from .._types import Key


def _halves(key):
    return jax.random.wrap_key_data(key.reshape(2, 2), impl="threefry2x32")


def _seed(seed):
    halves = jax.random.split(jax.random.key(seed, impl="threefry2x32"))
    return jax.random.key_data(halves).reshape(4)


def _split(key, shape):
    def split_half(half):
        return jax.random.key_data(jax.random.split(half, shape))

    halves = jax.vmap(split_half, 0, len(shape))(_halves(key))
    return halves.reshape(*shape, 4)


def _fold_in(key, data):
    def fold_half(half):
        return jax.random.key_data(jax.random.fold_in(half, data))

    return jax.vmap(fold_half)(_halves(key)).reshape(4)


_BIT_DTYPES = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32, 64: jnp.uint64}


def _random_bits(key, bit_width, shape):
    if bit_width not in _BIT_DTYPES:
        raise TypeError(f"random bits of width {bit_width} are not supported (8, 16, 32 or 64)")
    algorithm = jax.lax.RandomAlgorithm.RNG_THREE_FRY
    _, bits = jax.lax.rng_bit_generator(
        key, tuple(shape), dtype=_BIT_DTYPES[bit_width], algorithm=algorithm
    )
    return bits


XLA_THREEFRY = define_prng_impl(
    key_shape=(4,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="xla_threefry",
    tag="xtf",
)
"""The `jax.random` PRNG implementation behind [`pinnkit.xla_threefry_key`][]: pass it as
`jax.random.key(seed, impl=pinnkit.XLA_THREEFRY)` to seed one directly."""

PRNGS = ("threefry", "xla-threefry")
"""The PRNG choices of the command line's `--prng`: `"threefry"`, `jax.random`'s default, and
`"xla-threefry"`, [`pinnkit.xla_threefry_key`][]."""


def xla_threefry_key(key: Key) -> Key:
    r"""A key of the `"xla-threefry"` PRNG, derived deterministically from `key`.

    Every `jax.random` draw made from the returned key (and from keys split or folded from it)
    gets its bits from XLA's `RngBitGenerator` with the Threefry-2x32 algorithm. On a CPU that
    draws normal numbers about 4 times as fast as `jax.random`'s default `threefry2x32`
    implementation (measured at $10^7$ numbers; docs/benchmarks.md), which matters where
    drawing collocation points is a large part of a step, as at $d \geq 10^4$.

    The two give different numbers: a run with this key is a different (equally valid) random
    run, not the same run faster. XLA does not promise the same bits on every backend or in
    every XLA version.

    **Arguments:**

    - `key`: a PRNG key of any implementation (e.g. `jax.random.key(0)`), or a key of this
      implementation, which is returned unchanged.

    **Returns:**

    A scalar key whose implementation is [`pinnkit.XLA_THREEFRY`][], made of two keys split
    from `key`.
    """
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(
            "xla_threefry_key needs a typed PRNG key (jax.random.key(seed)), "
            f"got {type(key).__name__}"
        )
    if key.shape:
        raise ValueError(f"xla_threefry_key needs a scalar key, got shape {key.shape}")
    if jax.random.key_impl(key) == jax.random.key_impl(jax.random.key(0, impl=XLA_THREEFRY)):
        return key
    halves = jax.random.key_data(jax.random.split(key))
    return jax.random.wrap_key_data(halves.reshape(4).astype(jnp.uint32), impl=XLA_THREEFRY)


def with_prng(key: Key, prng: str) -> Key:
    """`key` for the PRNG named `prng` (one of `PRNGS`): unchanged for `"threefry"`, through
    [`xla_threefry_key`][pinnkit.xla_threefry_key] for `"xla-threefry"`."""
    if prng == "threefry":
        return key
    if prng == "xla-threefry":
        return xla_threefry_key(key)
    raise ValueError(f"unknown PRNG {prng!r}; valid: {', '.join(PRNGS)}")
