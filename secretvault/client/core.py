"""``secretvault_client.core``, under its old name (the same module object, not a copy)."""

import sys
from typing import TYPE_CHECKING

import secretvault_client.core

if TYPE_CHECKING:
    from secretvault_client.core import *  # noqa: F403

sys.modules[__name__] = secretvault_client.core
