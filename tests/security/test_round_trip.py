"""Every door gives a value back byte for byte, or refuses it with a clear error (SPEC §8).

Hypothesis drives values made of the characters that break naive doors -- line
breaks and CR, tabs, both quotes, ``$``, ``#``, backslashes, leading dashes, NEL,
U+2028/2029, VT/FF, NUL, a lone surrogate, the empty string, and values at and
just over ``MAX_VALUE_BYTES`` -- through:

- the API: create (POST), reveal, load;
- the CLI, in process: ``set`` with the value as an argument (after the options,
  and after ``--``), with ``--stdin --keep-trailing-newline``, then ``reveal``;
- ``export`` then ``import`` into another workspace, as dotenv and as JSON;
- the client, ``manage.py secretvault run`` and the client's ``run``: in
  ``test_round_trip_doors.py`` (a live server and child processes).

A value is acceptable when it holds no NUL, is valid Unicode and fits the limit.
An acceptable value must come back equal through every door except dotenv export,
which may refuse a value holding a separator no dotenv escape expresses -- naming
the key. An unacceptable value must be refused by every door, with a message that
names the rule and never contains the value.
"""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from rest_framework.test import APIClient

from secretvault import dotenv, services
from secretvault.conf import vault_settings
from secretvault.models import Secret

PIECES = st.sampled_from(
    ["\n", "\r", "\r\n", "\t", "'", '"', "$", "${HOME}", "$(id)", "`", "#", " # c", "\\", "\\n", "-"]
    + ["--", "=", " ", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "é", "🔑", "\x00", "\ud800"]
)
SHORT = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=10).map("".join)
EDGES = st.sampled_from(["", "-", "--", "-1234567", "--env", "-w", " ", "\n", "\r\n"])


@st.composite
def at_the_limit(draw: Any) -> str:
    limit = vault_settings.MAX_VALUE_BYTES
    size = draw(st.sampled_from([limit, limit + 1]))
    filler = draw(st.sampled_from(["x", "é", "\n"]))  # 1, 2 and 1 bytes of UTF-8
    value = filler * (size // len(filler.encode()))
    return value + "x" * (size - len(value.encode()))


VALUES = st.one_of(SHORT, SHORT, SHORT, EDGES, at_the_limit())
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_keys = itertools.count()
MARK = "not-in-any-message"


def acceptable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        return len(value.encode("utf-8")) <= vault_settings.MAX_VALUE_BYTES
    except UnicodeEncodeError:
        return False


def command(*argv: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    options: dict[str, Any] = {"stdout": out, "stderr": io.StringIO()}
    if stdin is not None:
        options["input_stream"] = io.StringIO(stdin)
    call_command("secretvault", *argv, **options)
    return out.getvalue()


class EveryDoorRoundTrips(TestCase):
    def setUp(self) -> None:
        self.workspace = services.create_workspace(slug="acme")
        self.target = services.create_workspace(slug="target")
        for workspace in (self.workspace, self.target):
            services.create_environment(workspace, slug="prd")
        _, raw = services.create_token(self.workspace, name="writer", can_write=True)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def refused_clearly(self, message: str, value: str) -> None:
        """A refusal names the rule, never the value (tested with a marker inside it)."""
        lowered = message.lower()
        assert any(word in lowered for word in ("nul", "unicode", "limit", "bytes")), message
        assert MARK not in message

    # -- API ---------------------------------------------------------------------

    def through_the_api(self, value: str) -> None:
        key = f"API_{next(_keys)}"
        body = {"key": key, "value": value, "envs": ["prd"]}
        # json.dumps escapes a lone surrogate as \ud800, as a real client's JSON would.
        response = self.api.post(
            "/api/v1/workspaces/acme/secrets/", json.dumps(body), content_type="application/json"
        )
        if not acceptable(value):
            assert response.status_code == 400, response.content
            self.refused_clearly(json.dumps(response.json()), value)
            assert not Secret.objects.filter(key=key).exists()
            return
        assert response.status_code == 201, response.content
        revealed = self.api.get(f"/api/v1/workspaces/acme/secrets/{key}/reveal/", {"env": "prd"})
        assert revealed.json()["value"] == value
        loaded = self.api.get("/api/v1/workspaces/acme/load/", {"env": "prd"})
        assert loaded.json()["secrets"][key] == value

    # -- CLI set and reveal ----------------------------------------------------------

    def through_the_cli(self, value: str) -> None:
        forms = [
            ("--", ["set", "-w", "acme", "--env", "prd", "KEY", "--", value]),
            ("stdin", ["set", "KEY", "-w", "acme", "--env", "prd", "--stdin", "--keep-trailing-newline"]),
        ]
        if not value.startswith("-") or value.lstrip("-").isdigit():
            forms.append(("after options", ["set", "KEY", "-w", "acme", "--env", "prd", value]))
        for name, argv in forms:
            key = f"CLI_{next(_keys)}"
            argv = [key if arg == "KEY" else arg for arg in argv]
            stdin = value if name == "stdin" else None
            if not acceptable(value):
                try:
                    command(*argv, stdin=stdin)
                except CommandError as exc:
                    self.refused_clearly(str(exc), value)
                else:
                    raise AssertionError(f"{name}: an unacceptable value was stored")
                assert not Secret.objects.filter(key=key).exists()
                continue
            command(*argv, stdin=stdin)
            assert command("reveal", key, "-w", "acme", "--env", "prd") == value + "\n", name

    # -- export and import -------------------------------------------------------------

    def through_export_and_import(self, value: str) -> None:
        if not acceptable(value):
            return  # it cannot be stored, so it cannot be exported
        key = f"MOVE_{next(_keys)}"
        services.create_secret(self.workspace, key=key, value=value, envs=["prd"])
        for fmt in ("json", "dotenv"):
            try:
                text = command("export", "-w", "acme", "--env", "prd", "--format", fmt)
            except CommandError as exc:
                assert fmt == "dotenv" and any(char in value for char in dotenv.UNWRITABLE), str(exc)
                assert f"{key} contains U+" in str(exc) and MARK not in str(exc)
                continue
            command("import", "-", "-w", "target", "--env", "prd", stdin=text)
            assert services.load(self.target, env="prd")[key] == value, fmt

    @SETTINGS
    @given(value=VALUES, marked=st.booleans())
    def test_every_door(self, value: str, marked: bool) -> None:
        if marked and len(value) < 100:
            value = MARK + value  # lets a refusal show it does not echo the value
        self.through_the_api(value)
        self.through_the_cli(value)
        self.through_export_and_import(value)
