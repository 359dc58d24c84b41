"""The example project's settings, with a ``.env`` file loaded first, as many projects do.

``tests/test_run_command.py`` runs ``manage.py`` in subprocesses with these
settings: the vault's own configuration (``SECRETVAULT_MASTER_KEYS``,
``DATABASE_URL``, ``SECRET_KEY``) then comes from the file named by
``RUN_TEST_DOTENV`` into ``os.environ``, not from the shell (issue #17.1).
"""

import os

import environ

environ.Env.read_env(os.environ["RUN_TEST_DOTENV"])

from example_project.settings import *  # noqa: E402, F403
