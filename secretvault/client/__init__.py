"""The application client, now the ``secretvault-client`` distribution (``secretvault_client``).

This package keeps the old import path working: every public name of
``secretvault_client`` is here, and ``secretvault.client.core``, ``.errors``,
``.values``, ``.cli``, ``.process``, ``.childenv``, ``.watch`` and ``.environ``
are the very same module objects as their ``secretvault_client`` counterparts.
New code imports ``secretvault_client``, which a service can install without
Django. See docs/client.md.
"""

from secretvault_client import *  # noqa: F403
from secretvault_client import __all__ as __all__  # noqa: F401
from secretvault_client import __version__ as __version__  # noqa: F401
