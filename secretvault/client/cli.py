"""``secretvault_client.cli``, under its old name (the same module object, not a copy)."""

import sys
from typing import TYPE_CHECKING

import secretvault_client.cli

if TYPE_CHECKING:
    from secretvault_client.cli import *  # noqa: F403

if __name__ == "__main__":  # python -m secretvault.client.cli
    sys.exit(secretvault_client.cli.main())
else:
    sys.modules[__name__] = secretvault_client.cli
