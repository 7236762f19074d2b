"""Deterministic byte streams used by IPFS implementations' own CID tests.

Both generators reproduce, bit for bit, the inputs behind published Kubo/boxo CIDs, so the
importer can be checked against files of hundreds of MiB without storing them:

* :class:`ChaCha20Reader` — Kubo ``test/cli`` and js-ipfs-unixfs: IETF ChaCha20 keystream with
  ``key = sha256(seed)``, zero nonce, counter 0. Also the benchmark's data source: it is fast
  (OpenSSL) and incompressible.
* :func:`go_math_rand_bytes` — Go ``math/rand`` v1 ``rand.New(rand.NewSource(seed)).Read``
  (the old ``random-data`` tool of Kubo's sharness tests). It needs Go's 607-value
  ``rngCooked`` table, which is passed in (it is Go's data, not ours).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = ["ChaCha20Reader", "chacha20_bytes", "go_math_rand_bytes", "load_rng_cooked"]

_ZEROS = bytes(1 << 20)


class ChaCha20Reader:
    """A file-like ``read(n)`` over the first ``size`` bytes of the keystream."""

    def __init__(self, seed: str | bytes, size: int) -> None:
        key = hashlib.sha256(seed.encode() if isinstance(seed, str) else seed).digest()
        # cryptography's 16-byte nonce = 4-byte little-endian counter (0) + 12-byte IETF nonce.
        self._enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        n = min(n, self._left)
        self._left -= n
        out = bytearray()
        while n > 0:
            step = min(n, len(_ZEROS))
            out += self._enc.update(_ZEROS[:step])
            n -= step
        return bytes(out)


def chacha20_bytes(seed: str | bytes, size: int) -> bytes:
    """The whole stream in memory (fine up to a few hundred MiB)."""
    return ChaCha20Reader(seed, size).read(size)


# --- Go math/rand v1 ----------------------------------------------------------------------------

_RNG_LEN = 607
_RNG_TAP = 273
_INT32_MAX = (1 << 31) - 1
_MASK64 = (1 << 64) - 1


def load_rng_cooked(path: str) -> list[int]:
    """Read Go's ``rngCooked`` table: one decimal int64 per line, ``#`` comments allowed."""
    values = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                values.append(int(line))
    if len(values) != _RNG_LEN:
        raise ValueError(f"{path}: expected {_RNG_LEN} values, found {len(values)}")
    return values


def _seedrand(x: int) -> int:
    # Go's seedrand: x * 48271 mod (2^31 - 1) for positive int32 x.
    return (48271 * x) % _INT32_MAX


def _go_seed_vector(seed: int, rng_cooked: Sequence[int]) -> list[int]:
    seed %= _INT32_MAX
    if seed == 0:
        seed = 89482311
    x = seed
    vec = [0] * _RNG_LEN
    for i in range(-20, _RNG_LEN):
        x = _seedrand(x)
        if i >= 0:
            u = x << 40
            x = _seedrand(x)
            u ^= x << 20
            x = _seedrand(x)
            u ^= x
            u ^= rng_cooked[i] & _MASK64
            vec[i] = u & _MASK64
    return vec


def go_math_rand_bytes(seed: int, size: int, rng_cooked: Sequence[int]) -> bytes:
    """Bytes of Go ``rand.New(rand.NewSource(seed)).Read(buf)`` for ``len(buf) == size``.

    Go's additive lagged Fibonacci generator is x[n] = x[n-607] + x[n-273] (mod 2^64); with a
    lag of 273 the sequence can be produced 273 values at a time with numpy. Each Int63 value
    (x & (2^63-1)) supplies 7 bytes, least significant first.
    """
    vec = _go_seed_vector(seed, rng_cooked)
    # Step k (k >= 1) overwrites vec[(334 - k) mod 607]; so x[k] for k in -606..0 is the
    # initial vec[(334 - k) mod 607].
    count = -(-size // 7)
    feed0 = _RNG_LEN - _RNG_TAP
    x = np.empty(_RNG_LEN + count, dtype=np.uint64)
    init = np.array(vec, dtype=np.uint64)
    ks = np.arange(-606, 1)
    x[:_RNG_LEN] = init[(feed0 - ks) % _RNG_LEN]
    base = _RNG_LEN - 1  # index of x[0] in the array
    k = 1
    with np.errstate(over="ignore"):
        while k <= count:
            step = min(_RNG_TAP, count - k + 1)
            lo = base + k
            x[lo : lo + step] = (
                x[lo - _RNG_LEN : lo - _RNG_LEN + step] + x[lo - _RNG_TAP : lo - _RNG_TAP + step]
            )
            k += step
    values = x[base + 1 :] & np.uint64((1 << 63) - 1)
    raw = values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :7]
    return raw.tobytes()[:size]
