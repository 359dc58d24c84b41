"""The application client: a service's way to its secrets, without Django.

    from secretvault.client import SecretVaultClient

    vault = SecretVaultClient()  # SECRETVAULT_URL, _TOKEN, _ENV (_WORKSPACE optional) from the environment
    secrets = vault.load()
    database_url = vault.get_required("DATABASE_URL")
    workers = secrets["WORKERS"].to_int()

See docs/client.md.
"""

from secretvault.client.core import Secrets, SecretVaultClient
from secretvault.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    HTTPError,
    InvalidValueError,
    MissingSecretError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    SecretVaultError,
    ServerError,
    ThrottledError,
    TransportError,
)
from secretvault.client.values import SecretValue

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "HTTPError",
    "InvalidValueError",
    "MissingSecretError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "SecretValue",
    "SecretVaultClient",
    "SecretVaultError",
    "Secrets",
    "ServerError",
    "ThrottledError",
    "TransportError",
]
