"""schemathesis hooks of ``python -m tests.fuzz``: valid data that also makes sense.

``positive_data_acceptance`` expects every schema-valid request to succeed, but some of
the API's rules are about the stored state, not the request's shape, and no OpenAPI
schema can state them: an ``env`` must name an environment of the workspace, an
``expires_at`` must lie in the future, a rollback's ``version`` must exist, the
``key`` in an update body must be the secret's own, and a new member names an existing
user or group, exactly one of them. For schema-valid (positive) cases
only, these hooks replace such values with ones that satisfy the rule, as a client that
knows the workspace would send. Negative cases are left alone, so every malformed value
is still sent and must still be refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import schemathesis

#: Environments, the user and the group ``tests.fuzz.seed`` creates.
SEEDED_ENVS = ("dev", "prd")
SEEDED_USER = "fuzz"
SEEDED_GROUP = "fuzzers"
#: An expiry well in the future: 2100-01-01T00:00:00Z.
FUTURE = 4_102_444_800


def _in_future(value: Any) -> bool:
    now = dt.datetime.now(dt.timezone.utc)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > now.timestamp() + 60
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment > now + dt.timedelta(minutes=1)
    return False


def _known_env(value: Any) -> Any:
    return value if value in SEEDED_ENVS else SEEDED_ENVS[len(str(value)) % len(SEEDED_ENVS)]


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict) and isinstance(case.query.get("env"), str):
        case.query["env"] = _known_env(case.query["env"])
    body = case.body
    if isinstance(body, dict):
        if isinstance(body.get("envs"), list):
            body["envs"] = sorted({_known_env(env) for env in body["envs"]})
        if body.get("expires_at") is not None and not _in_future(body["expires_at"]):
            body["expires_at"] = FUTURE
        if case.path.endswith("/rollback/") and isinstance(body.get("version"), int):
            body["version"] = 1
        if case.path.endswith("/members/") and case.method == "POST":
            if "user" in body or "group" not in body:
                body.pop("group", None)
                body["user"] = SEEDED_USER
            else:
                body["group"] = SEEDED_GROUP
        if "/members/" in case.path and body.get("role") == "admin" and body.get("envs"):
            body["envs"] = []  # an admin reaches every environment (secretvault.members)
        if case.method in ("PUT", "PATCH") and "key" in body and case.path_parameters:
            body["key"] = case.path_parameters.get("key", body["key"])
    return case


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but two 400s that depend on stored state, which no schema states:

    - a ``{key}`` request without ``env`` when several secrets share the key (SPEC §3: "if
      that is ambiguous the answer is 400 naming the env parameter"; the key parameter's
      description says so);
    - ``envs`` given for a member whose stored role is ``admin`` (SPEC §9: an admin
      reaches every environment).
    """
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 400:
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    if not isinstance(body, dict) or len(body) != 1:
        return True
    ((field, messages),) = body.items()
    expected = {"env": "name one with 'env'", "envs": "An admin reaches every environment"}.get(field)
    stateful = expected is not None and isinstance(messages, list)
    return not (stateful and all(expected in str(message) for message in messages))
