"""A member's secrets list and load cost the same queries however many memberships exist."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from secretvault import services
from secretvault.models import WorkspaceMember
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db


def add_memberships(user, start: int, stop: int) -> None:
    """Workspaces the user belongs to directly and through groups, each with env restrictions."""
    for i in range(start, stop):
        workspace = services.create_workspace(slug=f"team-{i}")
        env = services.create_environment(workspace, slug="dev")
        if i % 2:
            group = Group.objects.create(name=f"group-{i}")
            user.groups.add(group)
            row = WorkspaceMember.objects.create(workspace=workspace, group=group, role="developer")
        else:
            row = WorkspaceMember.objects.create(workspace=workspace, user=user, role="viewer")
        row.envs.set([env])


@pytest.mark.parametrize("route", ["secrets/?page_size=500", "load/?env=dev"])
def test_member_query_count_is_constant_in_memberships(
    workspace, dev, prd, make_secret, member, route, django_assert_num_queries
):
    for i in range(20):
        make_secret(f"KEY_{i}", f"v{i}", envs=[["dev"], ["prd"], []][i % 3])
    user, client = member("developer", ["dev"], via_group=True)
    url = ws_url("acme", *route.split("/")[:1]) + route.split("/", 1)[1]
    add_memberships(user, 0, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_memberships(user, 2, 30)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    body = response.json()
    shown = {item["key"] for item in body["results"]} if "results" in body else set(body["secrets"])
    assert shown == {f"KEY_{i}" for i in range(20) if i % 3 != 1}  # dev and global, never prd
