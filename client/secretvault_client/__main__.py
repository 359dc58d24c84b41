"""``python -m secretvault_client``: the ``secretvault`` command."""

import sys

from secretvault_client.cli import main

sys.exit(main())
