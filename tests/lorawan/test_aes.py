"""AES-128 (FIPS-197) and AES-CMAC (RFC 4493) of both MAC-layer implementations.

The compiled one carries its own C AES (AES-NI and a portable table cipher): the
published vectors run on every backend, and random keys and messages are compared with
the ``cryptography`` package.
"""

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import implementations, require_compiled
from hromada import compiled

IMPLS = implementations("lorawan")

# FIPS-197 appendix B and C.1.
FIPS = [
    ("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
     "3925841d02dc09fbdc118597196a0b32"),
    ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
     "69c4e0d86a7b0430d8cdb78070b4c55a"),
]

# RFC 4493 section 4: key, message lengths 0, 16, 40, 64.
RFC_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
RFC_MSG = ("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
           "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
RFC = [(0, "bb1d6929e95937287fa37d129b756746"), (16, "070a16b46b4d4144f79bdd9dd04a287c"),
       (40, "dfa66747de9ae63030ca32611497c827"), (64, "51f0bebf7e3b9d92fc49741779363cfe")]


@pytest.fixture(params=["aes-ni", "portable", "cryptography"])
def aes(request):
    """(implementation, backend) pairs; backends a machine lacks are skipped."""
    name = request.param
    if name == "cryptography":
        _, pure = compiled.both("lorawan")
        yield pure
        return
    if compiled.NO_EXTENSIONS:
        pytest.skip("HROMADA_NO_EXTENSIONS is set")
    comp, _ = compiled.both("lorawan")
    assert comp is not None, "hromada._lorawan is not compiled"
    if name not in comp.backends():
        pytest.skip(f"this CPU has no {name}")
    comp.set_backend(name)
    try:
        yield comp
    finally:
        comp.set_backend("auto")


def test_compiled_module_loaded():
    require_compiled("lorawan")


@pytest.mark.parametrize("key,plain,cipher", FIPS)
def test_fips197(aes, key, plain, cipher):
    k, p, c = bytes.fromhex(key), bytes.fromhex(plain), bytes.fromhex(cipher)
    assert aes.aes_encrypt(k, p) == c
    assert aes.aes_decrypt(k, c) == p


@pytest.mark.parametrize("length,mac", RFC)
def test_rfc4493(aes, length, mac):
    assert aes.aes_cmac(bytes.fromhex(RFC_KEY), bytes.fromhex(RFC_MSG)[:length]).hex() == mac


def test_backend_names():
    comp, pure = compiled.both("lorawan")
    assert pure.backends() == ["cryptography"]
    assert pure.backend() == "cryptography"
    if comp is not None:
        assert "portable" in comp.backends()
        assert comp.backend() in comp.backends()
        with pytest.raises(ValueError, match="unknown AES backend 'sse9'"):
            comp.set_backend("sse9")


def _ref_encrypt(key, block):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def _ref_cmac(key, msg):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


@settings(max_examples=150, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=st.binary(min_size=16, max_size=16),
       msg=st.binary(max_size=80))
def test_random_against_cryptography(key, block, msg):
    comp, pure = compiled.both("lorawan")
    ref_c = _ref_encrypt(key, block)
    ref_mac = _ref_cmac(key, msg)
    impls = [pure] + ([comp] if comp is not None and not compiled.NO_EXTENSIONS else [])
    for impl in impls:
        for name in impl.backends():
            impl.set_backend(name)
            try:
                assert impl.aes_encrypt(key, block) == ref_c, name
                assert impl.aes_decrypt(key, ref_c) == block, name
                assert impl.aes_cmac(key, msg) == ref_mac, name
            finally:
                impl.set_backend("auto")


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_keys_and_blocks(impl):
    with pytest.raises(ValueError, match="^key must be 16 bytes, got 15$"):
        impl.aes_encrypt(bytes(15), bytes(16))
    with pytest.raises(ValueError, match="^block must be 16 bytes, got 17$"):
        impl.aes_encrypt(bytes(16), bytes(17))
    with pytest.raises(TypeError, match="^key must be bytes, not str$"):
        impl.aes_cmac("00" * 16, b"")
