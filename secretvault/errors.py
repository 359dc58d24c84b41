"""Exceptions raised by secretvault. None of them ever carries a secret value."""

from __future__ import annotations

from typing import Any


class SecretVaultError(Exception):
    """Base class of every secretvault error."""


class CryptoError(SecretVaultError):
    """Base class of encryption errors.

    ``location`` says where it happened (``workspace`` slug, secret ``key``,
    ``version``) once a caller that knows adds it with ``locate``; never a value.
    """

    location: dict[str, Any]

    def locate(self, **where: Any) -> None:
        """Add what the caller knows of the place; what an inner caller said first wins."""
        self.location = {**where, **getattr(self, "location", {})}

    def place(self) -> str:
        """``workspace 'acme', secret 'API_KEY', version 3`` (or ``unknown place``)."""
        location = getattr(self, "location", {})
        names = {"workspace": "workspace", "key": "secret", "version": "version"}
        parts = [
            f"{label} {location[name]!r}" if name != "version" else f"{label} {location[name]}"
            for name, label in names.items()
            if location.get(name) is not None
        ]
        return ", ".join(parts) or "unknown place"


class MasterKeyError(CryptoError):
    """The master keyring is missing, malformed, or lacks a needed key."""


class DecryptionError(CryptoError):
    """A ciphertext could not be authenticated: tampered, misplaced or wrong key."""


class ConflictError(SecretVaultError):
    """The write conflicts with the stored state (HTTP 409)."""


class DuplicateKeyError(ConflictError):
    """Another secret of the same key already serves one of the environments."""


class VersionMismatchError(ConflictError):
    """A check-and-set write named a version that is not the current one."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(f"Expected version {expected}, but the current version is {current}.")


class InUseError(ConflictError):
    """The object is still referenced and cannot be deleted."""


class AmbiguousSecretError(SecretVaultError):
    """Several secrets share the key and no environment was given to choose one."""


class UnknownVersionError(SecretVaultError):
    """The version asked for does not exist (or was pruned)."""


class AccessError(SecretVaultError):
    """Base class of the reach rule's refusals (``secretvault.access``)."""


class NotVisibleError(AccessError):
    """The object is out of the principal's sight: answered exactly like a missing one (HTTP 404).

    Its message never names the object, so nothing tells it apart from one that does not exist.
    """

    def __init__(self) -> None:
        super().__init__("Not found.")


class AccessDeniedError(AccessError):
    """The principal sees the object but may not do this to it (HTTP 403)."""
