"""resolve() against a plain-Python reference model, over generated workspaces."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from secretvault import services
from secretvault.errors import DuplicateKeyError
from secretvault.models import Secret

ENVS = ["dev", "stg", "prd"]
TAGS = ["api", "worker", "Api"]
NOW = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)

secret_specs = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(["A", "B", "C", "D_1"]),
            "envs": st.sets(st.sampled_from(ENVS), max_size=2),
            "scope": st.sets(st.sampled_from(TAGS), max_size=2),
            "state": st.sampled_from(["active", "active", "revoked", "expired", "later"]),
        }
    ),
    max_size=12,
)


def reference(specs: list[dict], env: str | None, scope: str | None) -> dict[str, str]:
    """What a service should see, computed without SQL."""
    visible: dict[str, tuple[bool, str]] = {}
    for spec in specs:
        if spec["state"] in ("revoked", "expired"):
            continue
        if spec["envs"] and (env is None or env not in spec["envs"]):
            continue
        if spec["scope"] and scope is not None and scope not in spec["scope"]:
            continue
        specific = bool(spec["envs"])
        if spec["key"] not in visible or specific:
            visible[spec["key"]] = (specific, spec["value"])
    return {key: value for key, (_, value) in sorted(visible.items())}


class ResolveMatchesReference(TestCase):
    @given(
        specs=secret_specs,
        env=st.sampled_from([None, *ENVS, "missing"]),
        scope=st.sampled_from([None, *TAGS]),
    )
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_resolve(self, specs, env, scope):
        workspace = services.create_workspace(slug="prop")
        for slug in ENVS:
            services.create_environment(workspace, slug=slug)
        stored = []
        for index, spec in enumerate(specs):
            spec["value"] = f"value-{index}"
            expires = {
                "expired": timezone.now() + dt.timedelta(seconds=60),  # past by NOW
                "later": NOW + dt.timedelta(days=1),
            }.get(spec["state"])
            try:
                secret = services.create_secret(
                    workspace,
                    key=spec["key"],
                    value=spec["value"],
                    envs=sorted(spec["envs"]),
                    scope=sorted(spec["scope"]),
                    expires_at=expires,
                )
            except DuplicateKeyError:
                continue  # the conflict rule refused it: the reference never sees it
            if spec["state"] == "revoked":
                services.revoke_secret(secret)
            stored.append(spec)
        resolved = Secret.objects.resolve(workspace, env=env, scope=scope, now=NOW)
        values = services.decrypt_resolved(workspace, resolved)
        assert values == reference(stored, env, scope)


@pytest.mark.django_db
def test_conflict_rule_matches_set_disjointness(workspace):
    """Brute force over every pair of env sets: refused exactly when they overlap (or both global)."""
    for slug in ENVS:
        services.create_environment(workspace, slug=slug)
    subsets = [[], ["dev"], ["prd"], ["dev", "prd"], ["stg", "prd"]]
    for i, first in enumerate(subsets):
        for j, second in enumerate(subsets):
            key = f"K_{i}_{j}"
            services.create_secret(workspace, key=key, value="1", envs=first)
            overlap = (not first and not second) or bool(set(first) & set(second))
            try:
                services.create_secret(workspace, key=key, value="2", envs=second)
                refused = False
            except DuplicateKeyError:
                refused = True
            assert refused == overlap, (first, second)
