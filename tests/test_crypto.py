"""Envelope encryption: formats, tampering, keyring parsing, token primitives."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from secretvault import crypto
from secretvault.errors import DecryptionError, MasterKeyError
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

WS, SECRET = uuid.uuid4(), uuid.uuid4()


def _cipher() -> AESGCM:
    return AESGCM(b"\x07" * 32)


def _seal(plaintext: str = "hunter2", version: int = 1) -> bytes:
    return crypto.encrypt_value(_cipher(), "dk1", plaintext, crypto.value_context(WS, SECRET, version))


def _open(blob: bytes, version: int = 1, secret: uuid.UUID = SECRET, ws: uuid.UUID = WS) -> str:
    return crypto.decrypt_value(_cipher(), "dk1", blob, crypto.value_context(ws, secret, version))


def test_value_round_trip_and_format():
    blob = _seal("hunter2")
    assert blob[0] == crypto.FORMAT_VERSION
    assert crypto.read_key_id(blob) == "dk1"
    assert b"hunter2" not in blob
    assert len(blob) == 2 + 3 + 12 + len("hunter2") + 16
    assert _open(blob) == "hunter2"


@given(st.text(max_size=500), st.integers(min_value=1, max_value=2**40))
@settings(max_examples=60, deadline=None)
def test_round_trip_property(plaintext: str, version: int):
    blob = crypto.encrypt_value(_cipher(), "dk1", plaintext, crypto.value_context(WS, SECRET, version))
    assert (
        crypto.decrypt_value(_cipher(), "dk1", blob, crypto.value_context(WS, SECRET, version)) == plaintext
    )


def test_every_flipped_byte_fails():
    blob = _seal("a value worth protecting")
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            _open(bytes(tampered))


def test_truncated_blobs_fail():
    blob = _seal()
    for length in (0, 1, 2, 5, 5 + 12, len(blob) - 1):
        with pytest.raises(DecryptionError):
            _open(blob[:length])


@pytest.mark.parametrize(
    "other",
    [
        {"version": 2},
        {"secret": uuid.uuid4()},
        {"ws": uuid.uuid4()},
    ],
    ids=["other-version", "other-secret", "other-workspace"],
)
def test_ciphertext_bound_to_its_place(other):
    with pytest.raises(DecryptionError):
        _open(_seal(), **other)


def test_forged_key_id_fails_without_trying_other_keys():
    blob = _seal()
    header_len = 2 + blob[1]
    forged = bytes((crypto.FORMAT_VERSION, 3)) + b"dk2" + blob[header_len:]
    tried: list[str] = []

    def lookup(key_id: str) -> AESGCM:
        tried.append(key_id)
        return _cipher()  # even handing over the right key bytes: the header is authenticated

    with pytest.raises(DecryptionError):
        crypto.unseal(lookup, forged, crypto.value_context(WS, SECRET, 1))
    assert tried == ["dk2"]
    # decrypt_value refuses a header naming another data key before decrypting at all.
    with pytest.raises(DecryptionError, match="not the workspace's key"):
        _open(forged)


def test_unsupported_format_version():
    blob = bytearray(_seal())
    blob[0] = 9
    with pytest.raises(DecryptionError, match="format version 9"):
        _open(bytes(blob))


def test_nonces_are_unique(monkeypatch):
    calls = []
    real = crypto.secrets.token_bytes

    def spy(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(crypto.secrets, "token_bytes", spy)
    nonces = set()
    for _ in range(5000):
        blob = _seal("same plaintext")
        start = 2 + blob[1]
        nonces.add(blob[start : start + 12])
    assert len(nonces) == 5000
    assert calls == [12] * 5000  # every nonce came from the OS random source


# --------------------------------------------------------------------------
# Keyring


def test_generate_master_key_parses():
    entry = crypto.generate_master_key()
    key = crypto.parse_master_key(entry)
    assert len(key.key) == 32
    assert entry.startswith(key.key_id + ":")
    assert crypto.generate_master_key() != entry


def test_master_key_repr_hides_key_material():
    key = crypto.parse_master_key(TEST_MASTER_KEY)
    assert TEST_MASTER_KEY.split(":")[1] not in repr(key)
    assert "key=" not in repr(key)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "No master key configured"),
        ([], "No master key configured"),
        (None, "No master key configured"),
        ("no-colon-here", "malformed"),
        ("bad id!:" + "A" * 43, "invalid id"),
        ("k1:" + "A" * 20, "must be 32 bytes"),
        ("k1:" + "*" * 43, "base64url"),
        (f"{TEST_MASTER_KEY},{TEST_MASTER_KEY}", "appear twice"),
    ],
)
def test_bad_keyrings_raise_clear_errors(value, message):
    with pytest.raises(MasterKeyError, match=message) as excinfo:
        crypto.parse_keyring(value)
    # The message never echoes key material.
    assert "A" * 20 not in str(excinfo.value)


def test_keyring_order_and_comma_string():
    keyring = crypto.parse_keyring(f" {TEST_MASTER_KEY_2} , {TEST_MASTER_KEY} ")
    assert keyring.active.key_id == "test-2"
    assert keyring.get("test-1").key_id == "test-1"
    with pytest.raises(MasterKeyError, match="not in SECRETVAULT"):
        keyring.get("missing")


def test_keyring_follows_settings_changes():
    assert crypto.get_keyring().active.key_id == "test-1"
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        assert crypto.get_keyring().active.key_id == "test-2"
    assert crypto.get_keyring().active.key_id == "test-1"


def test_wrap_and_unwrap_data_key():
    ws = uuid.uuid4()
    data_key_id, key = crypto.new_data_key()
    master_id, wrapped = crypto.wrap_data_key(ws, data_key_id, key)
    assert master_id == "test-1"
    assert key not in wrapped
    assert crypto.unwrap_data_key(ws, data_key_id, wrapped) == key
    with pytest.raises(DecryptionError):
        crypto.unwrap_data_key(uuid.uuid4(), data_key_id, wrapped)  # another workspace
    with pytest.raises(DecryptionError):
        crypto.unwrap_data_key(ws, "other-id", wrapped)  # another data key id


def test_unwrap_with_wrong_master_key_raises():
    ws = uuid.uuid4()
    data_key_id, key = crypto.new_data_key()
    _, wrapped = crypto.wrap_data_key(ws, data_key_id, key)
    # Same id, other bytes: authentication fails, nothing is returned.
    impostor = "test-1:" + TEST_MASTER_KEY_2.split(":")[1]
    with override_settings(SECRETVAULT={"MASTER_KEYS": [impostor]}):
        with pytest.raises(DecryptionError, match="failed authentication"):
            crypto.unwrap_data_key(ws, data_key_id, wrapped)
    # Key id absent from the keyring: a clear MasterKeyError naming it.
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2]}):
        with pytest.raises(MasterKeyError, match="'test-1' is not in"):
            crypto.unwrap_data_key(ws, data_key_id, wrapped)
    with override_settings(SECRETVAULT={"MASTER_KEYS": []}):
        with pytest.raises(MasterKeyError, match="No master key"):
            crypto.unwrap_data_key(ws, data_key_id, wrapped)


# --------------------------------------------------------------------------
# Tokens


def test_token_format_and_checksum():
    new = crypto.generate_token("svt")
    prefix, token_id, rest = new.raw.split("_")
    assert prefix == "svt"
    assert token_id == new.token_id and len(token_id) == 16
    assert len(rest) == 43 + 6
    assert crypto.parse_token(new.raw, "svt") == (token_id, rest[:43])
    assert new.digest == crypto.token_digest(token_id, rest[:43])
    assert new.raw not in repr(new) and new.digest not in repr(new)


def test_token_secret_has_256_bits():
    assert 62**43 >= 2**256
    secrets_seen = {crypto.generate_token("svt").raw.split("_")[2][:43] for _ in range(200)}
    assert len(secrets_seen) == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # checksum broken
        lambda raw: raw.replace("svt_", "xyz_"),  # other prefix
        lambda raw: raw[:-2],  # too short
        lambda raw: raw + "0",  # too long
        lambda raw: raw.upper(),
        lambda raw: " " + raw,
        lambda raw: "",
    ],
)
def test_noise_is_not_a_token(mangle):
    raw = crypto.generate_token("svt").raw
    assert crypto.parse_token(mangle(raw), "svt") is None


def test_parse_token_rejects_non_strings():
    assert crypto.parse_token(None, "svt") is None  # type: ignore[arg-type]
    assert crypto.parse_token(b"svt_", "svt") is None  # type: ignore[arg-type]
