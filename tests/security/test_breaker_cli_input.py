"""Breaker finding: a deeply nested JSON file made ``import`` die with a RecursionError
(a traceback, SPEC §5: errors go to stderr with a non-zero exit and no traceback)."""

from __future__ import annotations

import pytest

from secretvault.models import Secret
from tests.test_command import cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_deeply_nested_json_is_a_clear_error(cli, workspace, tmp_path):  # noqa: F811
    path = tmp_path / "deep.json"
    path.write_text('{"K": ' * 100_000)
    result = cli("import", str(path), "-w", "acme")
    assert result.code == 1, result
    assert "Traceback" not in result.err and "nested" in result.err
    assert not Secret.objects.exists()
