"""The doors that cross a process or the network give a value back byte for byte (SPEC §8).

The companion of ``test_round_trip.py`` (API, CLI ``set``/``reveal``, export and
import, in process), with the same hypothesis values, through the doors that need a
served vault or a child process:

- the application client (``secretvault_client.SecretVaultClient``) against a live
  server: ``set()`` writes the value, ``load()`` and ``get()`` read it back;
- ``manage.py secretvault run``: the child process finds the value, byte-equal, in
  its environment;
- the client's ``secretvault run`` (``secretvault_client.cli``): the same, the values
  fetched over HTTP.

The child is a Python process that writes ``os.environb[KEY]`` to a file, so the
comparison is on the exact bytes the child received (UTF-8). A value the vault
refuses (NUL, invalid Unicode, over ``MAX_VALUE_BYTES``) must be refused by the
client with an error that names the rule and never holds the value.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from django.core.cache import caches
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import LiveServerTestCase

from secretvault import crypto, services
from secretvault.models import Secret
from secretvault_client import SecretVaultClient, SecretVaultError
from secretvault_client import cli as client_cli
from tests.security.test_round_trip import MARK, SETTINGS, VALUES, acceptable

#: The child of both ``run`` doors: writes the bytes of one variable to a file.
CHILD = "import os, sys; open(sys.argv[1], 'wb').write(os.environb[sys.argv[2].encode()])"
_keys = itertools.count()


class ProcessAndNetworkDoorsRoundTrip(LiveServerTestCase):
    def setup_example(self) -> None:
        # A TransactionTestCase empties the database after each example, so each
        # example sets up its own vault; the cache holds the throttle's counts.
        super().setup_example()
        for cache in caches.all(initialized_only=True):
            cache.clear()
        crypto.reset_caches()
        self.workspace = services.create_workspace(slug="acme")
        services.create_environment(self.workspace, slug="prd")
        _, self.raw_token = services.create_token(self.workspace, name="writer", can_write=True)
        self.url = f"{self.live_server_url}/api/v1/"
        self.client_ = SecretVaultClient(
            url=self.url, token=self.raw_token, workspace="acme", env="prd", cache_ttl=0, backoff=0.01
        )
        self.scratch = Path(tempfile.mkdtemp(prefix="sv-round-trip-"))

    def teardown_example(self, example: Any) -> None:
        for path in self.scratch.iterdir():
            path.unlink()
        self.scratch.rmdir()
        super().teardown_example(example)

    def child_received(self, run: Any, key: str) -> bytes:
        """Run the child through ``run(argv_after_dashdash)`` and return what it found in ``key``."""
        out = self.scratch / f"{key}.bin"
        run([sys.executable, "-c", CHILD, str(out), key])
        return out.read_bytes()

    def through_management_run(self, argv: list[str]) -> None:
        call_command(
            "secretvault", "run", "-w", "acme", "--env", "prd", "--", *argv,
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip

    def through_client_run(self, argv: list[str]) -> None:
        variables = {
            "SECRETVAULT_URL": self.url,
            "SECRETVAULT_TOKEN": self.raw_token,
            "SECRETVAULT_WORKSPACE": "acme",
            "SECRETVAULT_ENV": "prd",
        }
        with mock.patch.dict(os.environ, variables):
            assert client_cli.main(["run", "--", *argv]) == 0

    @SETTINGS
    @given(value=VALUES, marked=st.booleans())
    def test_client_and_both_runs(self, value: str, marked: bool) -> None:
        if marked and len(value) < 100:
            value = MARK + value  # lets a refusal show it does not echo the value
        key = f"DOOR_{next(_keys)}"
        if not acceptable(value):
            with self.assertRaises((SecretVaultError, ValueError)) as caught:
                self.client_.set(key, value, envs=["prd"])
            message = str(caught.exception)
            assert any(word in message.lower() for word in ("nul", "unicode", "limit", "bytes")), message
            assert MARK not in message
            assert not Secret.objects.filter(key=key).exists()
            return
        self.client_.set(key, value, envs=["prd"])
        assert services.reveal(Secret.objects.get(key=key)) == value
        loaded = self.client_.load()
        assert str(loaded[key]) == value
        assert str(self.client_.get(key)) == value
        expected = value.encode("utf-8")
        assert self.child_received(self.through_management_run, key) == expected
        assert self.child_received(self.through_client_run, key) == expected
