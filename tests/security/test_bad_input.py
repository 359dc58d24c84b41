"""Bad input survey: whatever a client sends, a clear 4xx (or CLI error) and nothing written.

Property-based: hypothesis generates JSON bodies of any shape, any Unicode in
keys and values, malformed expiries and Authorization headers, and CLI
arguments. The API never answers 5xx, always answers JSON, never echoes a
value, and a refused request leaves every table as it was.
"""

from __future__ import annotations

import io
import json

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from secretvault import services
from secretvault.models import AuditEvent, Environment, Secret, SecretVersion, ServiceToken, Workspace

API = "/api/v1/workspaces/acme"
FIELDS = ["key", "value", "description", "token_type", "scope", "envs", "expires_at", "expected_version"]
MARK = "VALUE-MARK-"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.sampled_from(
        ["", "prd", "dev", "API_KEY", "api", "access", "30d", "-1", "1e99", "2020-01-01T00:00:00Z"]
    ),
    st.lists(st.sampled_from(["prd", "dev", "nope", "", "api", "bad tag", 7]), max_size=3),
    st.integers(min_value=-10, max_value=4_102_444_800),
)
bodies = st.one_of(
    st.dictionaries(
        st.sampled_from([*FIELDS, "id", "workspace", "version", "created_by"]), field_values, max_size=8
    ),
    json_values,
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def table_counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Workspace, Environment, Secret, SecretVersion, ServiceToken)
    )


class ApiBadInput(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
        cls.workspace = services.create_workspace(slug="acme")
        services.create_environment(cls.workspace, slug="prd")
        services.create_environment(cls.workspace, slug="dev")
        cls.secret = services.create_secret(cls.workspace, key="EXISTING", value=MARK + "existing")

    def setUp(self) -> None:
        # A session user of the site's own pages (value reads need a same-origin marker).
        self.client = Client(HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.client.force_login(self.user)

    def check(self, response, before: tuple[int, ...], body: object) -> None:
        self.assertLess(response.status_code, 500, response.content[:300])
        self.assertEqual(response["Content-Type"].split(";")[0], "application/json", response.content[:200])
        payload = response.content.decode()
        json.loads(payload or "null")
        if response.status_code >= 400:
            self.assertEqual(table_counts(), before, payload[:300])
        # A written value is never echoed, whatever the outcome.
        if isinstance(body, dict) and isinstance(body.get("value"), str) and len(body["value"]) >= 6:
            self.assertNotIn(json.dumps(body["value"])[1:-1], payload)
        self.assertNotIn(MARK, payload)

    @given(body=bodies)
    @SETTINGS
    def test_create(self, body):
        if isinstance(body, dict) and isinstance(body.get("value"), str):
            body["value"] = MARK + body["value"]
        before = table_counts()
        response = self.client.post(f"{API}/secrets/", json.dumps(body), content_type="application/json")
        self.check(response, before, body)
        self.assertIn(response.status_code, {201, 400, 409})

    @given(body=bodies)
    @SETTINGS
    def test_update(self, body):
        before = table_counts()
        response = self.client.patch(
            f"{API}/secrets/EXISTING/", json.dumps(body), content_type="application/json"
        )
        self.check(response, before, body)
        self.assertIn(response.status_code, {200, 400, 409})

    @given(key=st.text(max_size=60), env=st.text(max_size=20))
    @SETTINGS
    def test_any_key_and_env_in_the_url(self, key, env):
        for suffix in ("", "reveal/", "versions/"):
            response = self.client.get(f"{API}/secrets/{_quote(key)}/{suffix}", {"env": env})
            self.check(response, table_counts(), None)
            self.assertIn(response.status_code, {200, 400, 404})

    @given(raw=st.binary(max_size=120))
    @SETTINGS
    def test_raw_bodies(self, raw):
        before = table_counts()
        response = self.client.post(f"{API}/secrets/", raw, content_type="application/json")
        self.check(response, before, None)

    @given(header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=120))
    @SETTINGS
    def test_any_authorization_header(self, header):
        anonymous = Client()
        for scheme in ("", "Bearer ", "Bearer svt_", "Basic "):
            response = anonymous.get(f"{API}/load/", HTTP_AUTHORIZATION=scheme + header)
            self.assertIn(response.status_code, {401, 403, 429}, response.content[:200])
            self.assertNotIn(MARK, response.content.decode())

    def test_huge_bodies_are_refused(self):
        before = table_counts()
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100_000):
            body = json.dumps({"key": "HUGE", "value": "x" * 200_000})
            response = self.client.post(f"{API}/secrets/", body, content_type="application/json")
        self.assertIn(response.status_code, {400, 413})
        self.assertEqual(response["Content-Type"].split(";")[0], "application/json")
        self.assertEqual(table_counts(), before)
        # Under the upload cap but over MAX_VALUE_BYTES: a field error on value.
        response = self.client.post(
            f"{API}/secrets/",
            json.dumps({"key": "BIG", "value": "é" * 40_000}),
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("value", response.json())


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="") or "%20"


class CliBadInput(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.workspace = services.create_workspace(slug="acme")
        services.create_environment(cls.workspace, slug="prd")

    def run_cli(self, *args: str) -> str | None:
        """Run the command; return the error message, or None when it succeeded."""
        try:
            call_command("secretvault", *args, stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as exc:
            return str(exc)
        return None

    @given(
        key=st.text(max_size=30),
        env=st.text(max_size=12),
        expires=st.one_of(st.none(), st.text(max_size=16)),
        workspace=st.sampled_from(["acme", "nope", "", "ACME"]),
    )
    @SETTINGS
    def test_set_refuses_cleanly(self, key, env, expires, workspace):
        args = ["set", key, MARK + "cli", "-w", workspace]
        if env:
            args += ["--env", env]
        if expires is not None:
            args += ["--expires", expires]
        before = table_counts(), AuditEvent.objects.count()
        if key.startswith("-") or (env and env.startswith("-")) or (expires or "").startswith("-"):
            return  # argparse would read these as options; covered by the usage-error tests
        error = self.run_cli(*args)
        if error is not None:
            self.assertNotIn("Traceback", error)
            self.assertNotIn(MARK, error)
            self.assertEqual((table_counts(), AuditEvent.objects.count()), before)
