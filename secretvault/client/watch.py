"""``secretvault_client.watch``, under its old name (the same module object, not a copy)."""

import sys
from typing import TYPE_CHECKING

import secretvault_client.watch

if TYPE_CHECKING:
    from secretvault_client.watch import *  # noqa: F403

sys.modules[__name__] = secretvault_client.watch
