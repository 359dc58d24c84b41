"""Envelope encryption and service-token primitives.

Key hierarchy::

    master key (settings keyring, by id)
      └── wraps the workspace data key (AES-256-GCM, AAD: workspace id, data key id)
            └── encrypts every secret value (AES-256-GCM, AAD: workspace, secret, version)

Every sealed blob starts with a header naming its format version and the id of
the key that sealed it. The header is part of the associated data, so a forged
key id fails authentication; decryption asks for exactly the key the header
names and never tries the others.

Blob layout: ``format (1 byte) | len(key_id) (1 byte) | key_id (ASCII) |
nonce (12 bytes) | ciphertext | tag (16 bytes)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.signals import setting_changed
from django.views.decorators.debug import sensitive_variables

from secretvault.conf import CONSTANTS, SETTING_NAME, vault_settings
from secretvault.errors import CryptoError, DecryptionError, MasterKeyError

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
KEY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # use with fullmatch

_PURPOSE_DATA_KEY = b"secretvault/data-key/v1\x00"
_PURPOSE_VALUE = b"secretvault/value/v1\x00"


# --------------------------------------------------------------------------
# Sealed blobs


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    return bytes((FORMAT_VERSION, len(raw))) + raw


def read_key_id(blob: bytes | memoryview) -> str:
    """Return the key id a sealed blob names, or raise ``DecryptionError``.

    ``blob`` may be a ``memoryview``, as a ``BinaryField`` reads on PostgreSQL.
    """
    return _split(blob)[1]


def _split(blob: bytes | memoryview) -> tuple[bytes, str, bytes, bytes]:
    blob = bytes(blob)
    if len(blob) < 2:
        raise DecryptionError("Ciphertext is truncated.")
    if blob[0] != FORMAT_VERSION:
        raise DecryptionError(f"Unsupported ciphertext format version {blob[0]}.")
    end = 2 + blob[1]
    if blob[1] == 0 or len(blob) < end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("Ciphertext is truncated.")
    try:
        key_id = blob[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("Ciphertext header is malformed.") from None
    if not KEY_ID_RE.fullmatch(key_id):
        raise DecryptionError("Ciphertext header is malformed.")
    return blob[:end], key_id, blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]


@sensitive_variables()
def seal(cipher: AESGCM, key_id: str, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt ``plaintext`` with a fresh random nonce, binding ``context``."""
    header = _header(key_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + cipher.encrypt(nonce, plaintext, header + context)


@sensitive_variables()
def unseal(lookup: Callable[[str], AESGCM], blob: bytes, context: bytes) -> bytes:
    """Decrypt a sealed blob with the key its header names.

    ``lookup`` maps that key id to a cipher or raises; it is called once.
    """
    header, key_id, nonce, body = _split(blob)
    cipher = lookup(key_id)
    try:
        return cipher.decrypt(nonce, body, header + context)
    except InvalidTag:
        raise DecryptionError(
            f"Ciphertext sealed with key {key_id!r} failed authentication: "
            "it was tampered with, moved from another row, or the key is wrong."
        ) from None


# --------------------------------------------------------------------------
# Master keyring


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes = field(repr=False)

    def cipher(self) -> AESGCM:
        return AESGCM(self.key)


@dataclass(frozen=True)
class Keyring:
    keys: tuple[MasterKey, ...]

    @property
    def active(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise MasterKeyError(
            f"Master key {key_id!r} is not in SECRETVAULT['MASTER_KEYS'] "
            f"(the keyring holds {', '.join(k.key_id for k in self.keys)})."
        )


def generate_master_key() -> str:
    """A new master key in keyring format: ``<key_id>:<base64url key>``."""
    key_id = time.strftime("%Y%m%d", time.gmtime()) + "-" + secrets.token_hex(3)
    return f"{key_id}:{_b64encode(AESGCM.generate_key(bit_length=256))}"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_master_key(entry: str, position: int = 1) -> MasterKey:
    """Parse one keyring entry. Error messages never include key material."""
    entry = entry.strip()
    key_id, sep, encoded = entry.partition(":")
    if not sep:
        raise MasterKeyError(
            f"Master key #{position} is malformed: expected '<key_id>:<base64url key>' "
            "as printed by 'manage.py secretvault generate-key'."
        )
    if not KEY_ID_RE.fullmatch(key_id):
        raise MasterKeyError(
            f"Master key #{position} has an invalid id: use 1-32 letters, digits, '.', '_' or '-'."
        )
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"Master key {key_id!r} is not valid base64url.") from None
    if not re.fullmatch(r"[A-Za-z0-9_-]+", encoded) or len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"Master key {key_id!r} must be {KEY_BYTES} bytes of base64url "
            f"(43 characters); it decodes to {len(raw)} bytes."
        )
    return MasterKey(key_id=key_id, key=raw)


def parse_keyring(value: str | Iterable[str] | None) -> Keyring:
    if value is None:
        entries: list[str] = []
    elif isinstance(value, str):
        entries = [part for part in value.split(",") if part.strip()]
    else:
        entries = [part for part in value if str(part).strip()]
    if not entries:
        raise MasterKeyError(
            "No master key configured: set SECRETVAULT['MASTER_KEYS'] (the example project "
            "reads SECRETVAULT_MASTER_KEYS); create one with 'manage.py secretvault generate-key'."
        )
    keys = tuple(parse_master_key(str(entry), i) for i, entry in enumerate(entries, 1))
    ids = [key.key_id for key in keys]
    duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
    if duplicates:
        raise MasterKeyError(f"Master key id(s) appear twice in the keyring: {', '.join(duplicates)}.")
    return Keyring(keys)


_lock = threading.Lock()
_keyring: Keyring | None = None
# (kind, workspace id, ..., wrapped bytes) -> (expires at, unwrapped key or cipher)
_unwrapped: dict[tuple[Any, ...], tuple[float, Any]] = {}


def get_keyring() -> Keyring:
    global _keyring
    keyring = _keyring
    if keyring is None:
        keyring = parse_keyring(vault_settings.MASTER_KEYS)
        _keyring = keyring
    return keyring


def reset_caches() -> None:
    """Forget the parsed keyring and every unwrapped data key.

    Runs by itself whenever ``settings.SECRETVAULT`` changes (``setting_changed``);
    call it after changing keys behind Django's back (tests, a rotation script).
    """
    global _keyring
    with _lock:
        _keyring = None
        _unwrapped.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        reset_caches()


setting_changed.connect(_on_setting_changed, dispatch_uid="secretvault.crypto.reset_caches")


# --------------------------------------------------------------------------
# Data keys


def new_data_key() -> tuple[str, bytes]:
    """A fresh random 256-bit data key and its id."""
    return secrets.token_hex(8), AESGCM.generate_key(bit_length=256)


def _data_key_context(workspace_id: uuid.UUID, data_key_id: str) -> bytes:
    return _PURPOSE_DATA_KEY + workspace_id.bytes + data_key_id.encode("ascii")


@sensitive_variables()
def wrap_data_key(
    workspace_id: uuid.UUID, data_key_id: str, data_key: bytes, master: MasterKey | None = None
) -> tuple[str, bytes]:
    """Wrap a data key under ``master`` (default: the active master key).

    Returns ``(master_key_id, wrapped)``.
    """
    master = master or get_keyring().active
    wrapped = seal(master.cipher(), master.key_id, data_key, _data_key_context(workspace_id, data_key_id))
    return master.key_id, wrapped


@sensitive_variables()
def unwrap_data_key(workspace_id: uuid.UUID, data_key_id: str, wrapped: bytes) -> bytes:
    keyring = get_keyring()
    data_key = unseal(
        lambda key_id: keyring.get(key_id).cipher(),
        wrapped,
        _data_key_context(workspace_id, data_key_id),
    )
    if len(data_key) != KEY_BYTES:
        raise DecryptionError("Unwrapped data key has the wrong length.")
    return data_key


def _cached(cache_key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """Memoise an unwrapped key (or its cipher) for ``DATA_KEY_CACHE_SECONDS``."""
    now = time.monotonic()
    hit = _unwrapped.get(cache_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = build()
    ttl = vault_settings.DATA_KEY_CACHE_SECONDS
    if ttl > 0:
        with _lock:
            if len(_unwrapped) > 1024:
                _unwrapped.clear()
            _unwrapped[cache_key] = (now + ttl, value)
    return value


def data_key_cipher(workspace_id: uuid.UUID, data_key_id: str, wrapped: bytes) -> AESGCM:
    """The AES-GCM cipher of a workspace's data key, cached briefly in process."""
    wrapped = bytes(wrapped)
    return _cached(
        ("data", workspace_id, data_key_id, wrapped),
        lambda: AESGCM(unwrap_data_key(workspace_id, data_key_id, wrapped)),
    )


# The audit key is wrapped exactly like a data key, under this reserved id
# (data key ids are hex, so it cannot collide with one).
AUDIT_KEY_ID = "audit"


def audit_key(workspace_id: uuid.UUID, wrapped: bytes) -> bytes:
    """A workspace's audit-chain HMAC key, unwrapped and cached briefly in process."""
    wrapped = bytes(wrapped)
    return _cached(
        ("audit", workspace_id, wrapped), lambda: unwrap_data_key(workspace_id, AUDIT_KEY_ID, wrapped)
    )


def chain_digest(key: bytes, previous: str, message: bytes) -> str:
    """HMAC-SHA256 linking an audit event to the one before it (hex)."""
    return hmac.new(key, previous.encode("ascii") + b"\x00" + message, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------
# Values


def value_context(workspace_id: uuid.UUID, secret_id: uuid.UUID, version: int) -> bytes:
    """Associated data binding a value to its workspace, secret and version."""
    return _PURPOSE_VALUE + workspace_id.bytes + secret_id.bytes + version.to_bytes(8, "big")


@sensitive_variables()
def encrypt_value(cipher: AESGCM, data_key_id: str, plaintext: str, context: bytes) -> bytes:
    return seal(cipher, data_key_id, plaintext.encode("utf-8"), context)


@sensitive_variables()
def decrypt_value(
    cipher: AESGCM,
    data_key_id: str,
    blob: bytes,
    context: bytes,
    others: Mapping[str, AESGCM] | None = None,
) -> str:
    """Decrypt a value sealed under the data key ``data_key_id``.

    A blob whose header names another data key is refused without trying,
    unless ``others`` holds that key (a workspace mid-way through a data key
    rotation keeps its previous key there until every version is re-encrypted).
    """

    def lookup(key_id: str) -> AESGCM:
        if key_id == data_key_id:
            return cipher
        if others and key_id in others:
            return others[key_id]
        raise DecryptionError(
            f"Value is sealed with data key {key_id!r}, not the workspace's key {data_key_id!r}."
        )

    plaintext = unseal(lookup, blob, context)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - authenticated data is always UTF-8
        raise DecryptionError("Decrypted value is not UTF-8.") from None


@sensitive_variables()
def decrypt_values(
    cipher: AESGCM,
    data_key_id: str,
    workspace_id: uuid.UUID,
    items: Iterable[tuple[str, bytes, bytes, int]],
    others: Mapping[str, AESGCM] | None = None,
) -> dict[str, str]:
    """Decrypt many values of one workspace: ``{name: plaintext}``.

    ``items`` yields ``(name, blob, secret id bytes, version)``. The same checks
    and associated data as ``decrypt_value``, in one tight loop: this is the hot
    path of ``load``.
    """
    expected = _header(data_key_id)
    start = len(expected)
    prefix = _PURPOSE_VALUE + workspace_id.bytes
    values: dict[str, str] = {}
    name, version = "", 0
    try:
        for name, blob, secret_id, version in items:
            blob = bytes(blob)
            context = prefix + secret_id + version.to_bytes(8, "big")
            if blob[:start] != expected:
                # A foreign or malformed header: the general path names the problem.
                values[name] = decrypt_value(cipher, data_key_id, blob, context, others)
                continue
            try:
                plaintext = cipher.decrypt(
                    blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], expected + context
                )
            except InvalidTag:
                raise DecryptionError(
                    f"Ciphertext sealed with key {data_key_id!r} failed authentication: "
                    "it was tampered with, moved from another row, or the key is wrong."
                ) from None
            values[name] = plaintext.decode("utf-8")
    except CryptoError as exc:
        exc.locate(key=name, version=version)  # the operators' log names the row (issue #10.11)
        raise
    return values


# --------------------------------------------------------------------------
# Service tokens

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    if number:
        raise ValueError("number does not fit")
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CONSTANTS["TOKEN_CHECKSUM_LENGTH"])


@dataclass(frozen=True)
class NewToken:
    token_id: str
    raw: str = field(repr=False)
    digest: str = field(repr=False)


def generate_token(prefix: str) -> NewToken:
    """A new raw token ``<prefix>_<token_id>_<secret><checksum>``.

    The secret is 256 bits from ``secrets`` in base62; the checksum is a
    CRC32 of everything before it, so a scanner can tell a real token from noise.
    """
    token_id = secrets.token_hex(CONSTANTS["TOKEN_ID_LENGTH"] // 2)
    secret = _base62(secrets.randbits(256), CONSTANTS["TOKEN_SECRET_LENGTH"])
    body = f"{prefix}_{token_id}_{secret}"
    return NewToken(token_id=token_id, raw=body + _checksum(body), digest=token_digest(token_id, secret))


_TOKEN_RE_CACHE: dict[str, re.Pattern[str]] = {}


def parse_token(raw: str, prefix: str) -> tuple[str, str] | None:
    """Split a raw token into ``(token_id, secret)``; ``None`` when it is not one.

    Checks only the shape and the checksum, which reveal nothing about stored
    tokens.
    """
    pattern = _TOKEN_RE_CACHE.get(prefix)
    if pattern is None:
        pattern = re.compile(
            rf"{re.escape(prefix)}_([0-9a-f]{{{CONSTANTS['TOKEN_ID_LENGTH']}}})_"
            rf"([0-9A-Za-z]{{{CONSTANTS['TOKEN_SECRET_LENGTH']}}})"
            rf"([0-9A-Za-z]{{{CONSTANTS['TOKEN_CHECKSUM_LENGTH']}}})"
        )
        _TOKEN_RE_CACHE[prefix] = pattern
    match = pattern.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        return None
    token_id, secret, checksum = match.groups()
    if not hmac.compare_digest(checksum, _checksum(f"{prefix}_{token_id}_{secret}")):
        return None
    return token_id, secret


def token_digest(token_id: str, secret: str) -> str:
    """SHA-256 of the token's secret part, bound to its id (hex)."""
    return hashlib.sha256(f"secretvault-token\x00{token_id}\x00{secret}".encode("ascii")).hexdigest()


def digests_match(stored: str, candidate: str) -> bool:
    return hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii"))
