"""WorkspacePermissionBackend: object permissions from memberships, groups and global permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.test import override_settings

from secretvault.backends import WorkspacePermissionBackend
from secretvault.models import WorkspaceMember

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # Django caches permissions on the instance


@pytest.fixture
def secrets(workspace, other_workspace, dev, prd, make_secret):
    return {
        "global": make_secret("G", "g"),
        "dev": make_secret("D", "d", envs=["dev"]),
        "prd": make_secret("P", "p", envs=["prd"]),
        "other": make_secret("O", "o", workspace=other_workspace),
    }


def test_membership_grants_object_permissions_within_its_environments(secrets, workspace, dev, staff_user):
    member = WorkspaceMember.objects.create(workspace=workspace, user=staff_user, role="developer")
    member.envs.set([dev])
    user = fresh(staff_user)
    assert user.has_perm("secretvault.reveal_secret", secrets["dev"])
    assert user.has_perm("secretvault.reveal_secret", secrets["global"])
    assert not user.has_perm("secretvault.reveal_secret", secrets["prd"])
    assert not user.has_perm("secretvault.reveal_secret", secrets["other"])
    assert user.has_perm("secretvault.change_secret", secrets["dev"])
    assert not user.has_perm("secretvault.change_secret", secrets["global"])  # beyond dev
    assert user.has_perm("secretvault.view_workspace", workspace)
    assert not user.has_perm("secretvault.view_auditevent", workspace)
    assert not user.has_perm("secretvault.reveal_secret")  # no global permission
    assert user.has_perm("secretvault.view_environment", dev)


def test_group_membership_counts(secrets, workspace, staff_user):
    group = Group.objects.create(name="ops")
    staff_user.groups.add(group)
    WorkspaceMember.objects.create(workspace=workspace, group=group, role="viewer")
    user = fresh(staff_user)
    assert user.has_perm("secretvault.view_secret", secrets["prd"])
    assert not user.has_perm("secretvault.reveal_secret", secrets["prd"])


def test_global_permissions_and_superusers_keep_working(secrets, superuser, staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="reveal_secret"))
    staff_user.user_permissions.add(Permission.objects.get(codename="view_secret"))
    user = fresh(staff_user)
    assert user.has_perm("secretvault.reveal_secret")
    assert all(user.has_perm("secretvault.reveal_secret", secret) for secret in secrets.values())
    assert all(superuser.has_perm("secretvault.delete_secret", secret) for secret in secrets.values())


def test_inactive_users_hold_nothing(secrets, workspace, staff_user):
    WorkspaceMember.objects.create(workspace=workspace, user=staff_user, role="admin")
    staff_user.is_active = False
    staff_user.save()
    user = fresh(staff_user)
    assert not user.has_perm("secretvault.view_secret", secrets["global"])
    assert not WorkspacePermissionBackend().has_perm(user, "secretvault.view_workspace", workspace)


def test_it_authenticates_nobody(staff_user):
    assert WorkspacePermissionBackend().authenticate(None, username="staff", password="pw") is None


def test_system_check_warns_without_the_backend():
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        ids = [message.id for message in checks.run_checks()]
    assert "secretvault.W020" in ids
    assert "secretvault.W020" not in [message.id for message in checks.run_checks()]
