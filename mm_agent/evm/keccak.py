"""keccak-256 (Ethereum's pre-standard SHA-3 padding) for the hot paths.

``hashlib`` has SHA3-256 but not keccak (OpenSSL 3.0 lacks it), and ``Crypto.Hash.keccak``
costs ~20 ms to import: pycryptodome loads its C code through cffi, which parses the C
declarations with pycparser at import time. The same compiled code (pycryptodome's
``Crypto/Hash/_keccak`` extension, a plain shared library) is loaded here through ctypes
(~2 ms), which is also pycryptodome's own fallback when cffi is missing. If the library cannot
be found or loaded, ``Crypto.Hash.keccak`` is used. tests/test_fast_crypto.py checks parity.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["keccak256"]

_impl: Callable[[bytes], bytes] | None = None


def _ctypes_impl() -> Callable[[bytes], bytes]:
    import ctypes
    import os
    from importlib.machinery import EXTENSION_SUFFIXES
    from importlib.util import find_spec

    spec = find_spec("Crypto")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise OSError("pycryptodome not found")
    base = os.path.join(next(iter(spec.submodule_search_locations)), "Hash")
    for suffix in EXTENSION_SUFFIXES:
        path = os.path.join(base, "_keccak" + suffix)
        if os.path.isfile(path):
            lib = ctypes.CDLL(path)
            break
    else:
        raise OSError("pycryptodome's _keccak library not found")

    init, absorb, digest, destroy = (lib.keccak_init, lib.keccak_absorb, lib.keccak_digest,
                                     lib.keccak_destroy)
    init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
    absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_ubyte]
    destroy.argtypes = [ctypes.c_void_p]
    for fn in (init, absorb, digest, destroy):
        fn.restype = ctypes.c_int

    def keccak(data: bytes) -> bytes:
        state = ctypes.c_void_p()
        # capacity = 2 x 32 bytes, 24 rounds, padding 0x01 (keccak, not SHA-3's 0x06)
        if init(ctypes.byref(state), 64, 24):
            raise RuntimeError("keccak_init failed")
        try:
            out = ctypes.create_string_buffer(32)
            if absorb(state, data, len(data)) or digest(state, out, 32, 0x01):
                raise RuntimeError("keccak failed")
            return out.raw
        finally:
            destroy(state)

    if keccak(b"") != bytes.fromhex(
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"):
        raise OSError("unexpected keccak result")  # a changed C API: use pycryptodome's
    return keccak


def _pycryptodome_impl() -> Callable[[bytes], bytes]:
    from Crypto.Hash import keccak as _k

    def keccak(data: bytes) -> bytes:
        return _k.new(digest_bits=256, data=data).digest()

    return keccak


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """The 32-byte keccak-256 digest of ``data``."""
    global _impl
    if _impl is None:
        try:
            _impl = _ctypes_impl()
        except (OSError, AttributeError):
            _impl = _pycryptodome_impl()
    return _impl(bytes(data))
