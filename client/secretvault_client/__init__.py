"""secretvault-client: a service's way to its secrets, without Django or any other dependency.

    from secretvault_client import SecretVaultClient

    vault = SecretVaultClient()  # SECRETVAULT_URL, _TOKEN, _ENV (_WORKSPACE optional) from the environment
    secrets = vault.load()
    database_url = vault.get_required("DATABASE_URL")
    workers = secrets["WORKERS"].to_int()

See docs/client.md. The Django distribution re-exports all of this as ``secretvault.client``.
"""

# Before the imports below: core.py puts it in the User-Agent.
__version__ = "0.1.0"

from secretvault_client.core import Secrets, SecretVaultClient
from secretvault_client.errors import (
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
    ResponseTooLargeError,
    SecretVaultError,
    ServerError,
    ThrottledError,
    TransportError,
)
from secretvault_client.values import SecretValue
from secretvault_client.watch import Watch

__all__ = [
    "__version__",
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
    "ResponseTooLargeError",
    "SecretValue",
    "SecretVaultClient",
    "SecretVaultError",
    "Secrets",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "Watch",
]
