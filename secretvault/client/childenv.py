"""``secretvault_client.childenv``, under its old name (the same module object, not a copy)."""

import sys
from typing import TYPE_CHECKING

import secretvault_client.childenv

if TYPE_CHECKING:
    from secretvault_client.childenv import *  # noqa: F403

sys.modules[__name__] = secretvault_client.childenv
