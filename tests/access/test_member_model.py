"""WorkspaceMember: exactly one of user or group, one membership per user or group."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from secretvault.models import MemberRole, WorkspaceMember

pytestmark = pytest.mark.django_db


def test_exactly_one_of_user_or_group(workspace, staff_user):
    group = Group.objects.create(name="team")
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMember.objects.create(workspace=workspace, role=MemberRole.VIEWER)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMember.objects.create(workspace=workspace, user=staff_user, group=group)
    WorkspaceMember.objects.create(workspace=workspace, user=staff_user)
    WorkspaceMember.objects.create(workspace=workspace, group=group)
    assert WorkspaceMember.objects.count() == 2


def test_unique_per_workspace_and_user_or_group(workspace, other_workspace, staff_user):
    group = Group.objects.create(name="team")
    WorkspaceMember.objects.create(workspace=workspace, user=staff_user)
    WorkspaceMember.objects.create(workspace=workspace, group=group)
    WorkspaceMember.objects.create(workspace=other_workspace, user=staff_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMember.objects.create(workspace=workspace, user=staff_user, role=MemberRole.ADMIN)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMember.objects.create(workspace=workspace, group=group)


def test_repr_and_str_name_the_principal(workspace, staff_user):
    member = WorkspaceMember.objects.create(workspace=workspace, user=staff_user, role=MemberRole.ADMIN)
    assert str(member) == "user:staff (admin)"
    assert "user:staff" in repr(member)
