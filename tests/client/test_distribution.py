"""The two distributions: ``secretvault_client`` stands alone; ``secretvault.client`` re-exports it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib import metadata

import pytest

import secretvault_client

CLIENT_MODULES = ["core", "errors", "values", "cli", "process", "childenv", "watch"]


def test_every_public_name_is_re_exported_as_the_same_object() -> None:
    import secretvault.client as old

    assert sorted(old.__all__) == sorted(secretvault_client.__all__)
    for name in secretvault_client.__all__:
        assert getattr(old, name) is getattr(secretvault_client, name), name


@pytest.mark.parametrize("module", [*CLIENT_MODULES, "environ"])
def test_old_submodule_paths_are_the_same_module_objects(module: str) -> None:
    old = importlib.import_module(f"secretvault.client.{module}")
    assert old is importlib.import_module(f"secretvault_client.{module}")


def test_old_module_path_still_runs_the_command() -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "secretvault.client.cli", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: secretvault")


@pytest.mark.parametrize(
    "module", [*(f"secretvault_client.{name}" for name in CLIENT_MODULES), "secretvault.client"]
)
def test_importing_the_client_imports_no_django(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_the_client_package_imports_nothing_from_the_django_distribution() -> None:
    """The client wheel installs alone, so ``secretvault_client`` may not reach for ``secretvault``."""
    names = ", ".join(f"secretvault_client.{name}" for name in CLIENT_MODULES)
    code = f"import sys, {names}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'secretvault'))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_installed_metadata_client_needs_nothing_and_owns_the_script() -> None:
    client = metadata.distribution("secretvault-client")
    assert client.version == secretvault_client.__version__
    # Only the optional extra pulls anything in.
    assert all("extra ==" in requirement for requirement in client.requires or [])
    scripts = {entry.name: entry.value for entry in client.entry_points if entry.group == "console_scripts"}
    assert scripts == {"secretvault": "secretvault_client.cli:main"}

    server = metadata.distribution("secretvault")
    assert any(requirement.startswith("secretvault-client") for requirement in server.requires or [])
    assert not [entry for entry in server.entry_points if entry.group == "console_scripts"]
