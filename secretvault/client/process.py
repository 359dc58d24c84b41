"""``secretvault_client.process``, under its old name (the same module object, not a copy)."""

import sys
from typing import TYPE_CHECKING

import secretvault_client.process

if TYPE_CHECKING:
    from secretvault_client.process import *  # noqa: F403

sys.modules[__name__] = secretvault_client.process
