"""The ``secretvault`` console script: argument handling, then end to end against the live API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretvault import dotenv, services
from secretvault_client.childenv import child_environment
from secretvault_client.cli import format_secrets, main
from tests.client.conftest import PRD_SECRETS, VAULT_VARIABLES, Reply, Stub, Vault

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
VALUES = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("secretvault: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ------------------------------------------------------------------------------------------
# Without a server


def test_child_environment_lets_set_variables_win() -> None:
    merged = child_environment({"API_KEY": "vault", "WORKERS": "4"}, {"API_KEY": "mine", "PATH": "/bin"})
    assert merged.environ == {"API_KEY": "mine", "WORKERS": "4", "PATH": "/bin"}
    assert (merged.injected, merged.kept, merged.refused) == (("WORKERS",), ("API_KEY",), ())
    prefixed = child_environment({"API_KEY": "vault"}, {"API_KEY": "mine"}, prefix="APP_")
    assert prefixed.environ == {"APP_API_KEY": "vault", "API_KEY": "mine"}


@given(st.dictionaries(KEYS, VALUES.filter(lambda v: not any(c in v for c in dotenv.UNWRITABLE)), max_size=8))
def test_dotenv_export_round_trips(secrets: dict[str, str]) -> None:
    text = format_secrets(secrets, "dotenv")
    assert {entry.key: entry.value for entry in dotenv.parse(text)} == secrets
    assert text.count("\n") == len(secrets)  # one line per secret, whatever the value holds


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_json_export_round_trips(secrets: dict[str, str]) -> None:
    assert json.loads(format_secrets(secrets, "json")) == secrets


def test_dotenv_export_escapes_only_what_python_dotenv_and_django_environ_know() -> None:
    text = format_secrets({"V": 'a\nb "c" $HOME #d \\e\tf\rg'}, "dotenv")
    assert text == 'V="a\\nb \\"c\\" $HOME #d \\\\e\tf\\rg"\n'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["get"], "required: KEY"),
        (["export", "--format", "yaml"], "invalid choice"),
        (["--timeout", "soon", "get", "X"], "invalid float value"),
        (["run", "--env", "prd"], "no command given"),
        (["run", "--env", "prd", "--"], "no command given"),
        (["run", "--prefix", "1X", "--", "true"], "--prefix must start with a letter"),
        (["get", "X"], "No API URL: set SECRETVAULT_URL"),
        (["--url", "http://127.0.0.1:1/api/v1/", "get", "X"], "No service token: set SECRETVAULT_TOKEN"),
        (["get", "X", "--url", "ftp://h/", "--token", "svt_a_b", "-w", "acme"], "http:// or https://"),
    ],
)
def test_usage_and_configuration_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in one_error_line(captured.err)
    assert captured.out == ""


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--help"])
    assert caught.value.code == 0
    assert "Variables already set" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("slugs", "message"), [((), "the token sees none"), (("acme", "globex"), "sees 2 workspaces")]
)
def test_no_single_workspace_to_discover_exits_2_naming_the_variable(
    stub: Stub, slugs: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = [{"slug": slug} for slug in slugs]
    stub.script(Reply(200, {"count": len(slugs), "next": None, "previous": None, "results": results}))
    assert main(["get", "X", "--url", stub.url, "--token", "svt_a_b"]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert message in line and "set SECRETVAULT_WORKSPACE" in line
    assert captured.out == ""
    assert [seen.path for seen in stub.seen] == ["/api/v1/workspaces/"]


def test_help_says_the_workspace_is_optional(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "the token's only workspace" in " ".join(capsys.readouterr().out.split())


def test_unreachable_server_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--url", "http://127.0.0.1:9/api/v1/", "--token", "svt_id_s3kr1t", "-w", "acme", "--retries", "0"]
    assert main([*argv, "export"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "Cannot connect to http://127.0.0.1:9/api/v1/" in line
    assert "s3kr1t" not in line


# ------------------------------------------------------------------------------------------
# End to end, in a subprocess, against the live API


def cli(
    vault: Vault,
    *args: str,
    token: str | None = None,
    workspace: bool = True,
    program: list[str] | None = None,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """``python -m secretvault_client ARGS`` configured only by the three variables (plus extras).

    ``workspace=False`` leaves ``SECRETVAULT_WORKSPACE`` out; ``program`` replaces ``python -m ...``.
    """
    environment = {name: value for name, value in os.environ.items() if name not in VAULT_VARIABLES}
    for name in PRD_SECRETS:
        environment.pop(name, None)
    environment.update(SECRETVAULT_URL=vault.url, SECRETVAULT_TOKEN=token or vault.read_token)
    if workspace:
        environment["SECRETVAULT_WORKSPACE"] = vault.workspace.slug
    environment.update(extra_env)
    return subprocess.run(  # noqa: S603
        [*(program or [sys.executable, "-m", "secretvault_client"]), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def show_env(*keys: str) -> str:
    """Python code printing the named environment variables as a JSON object."""
    return f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {list(keys)!r}}}))"


def test_run_gives_the_child_its_secrets(vault: Vault) -> None:
    code = show_env(*PRD_SECRETS)
    result = cli(vault, "run", "--env", "prd", "--", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == PRD_SECRETS
    assert result.stderr == ""


def test_console_script_run_with_only_url_and_token(vault: Vault, other_workspace: Any) -> None:
    """Issue 5: a service outside the Django project, given only SECRETVAULT_URL and SECRETVAULT_TOKEN."""
    script = Path(sys.executable).with_name("secretvault")
    if not script.exists():
        pytest.skip("the secretvault console script is not installed next to this interpreter")
    code = show_env(*PRD_SECRETS, "SECRETVAULT_WORKSPACE")
    result = cli(
        vault, "run", "--env", "prd", "--", sys.executable, "-c", code, workspace=False, program=[str(script)]
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**PRD_SECRETS, "SECRETVAULT_WORKSPACE": None}
    assert result.stderr == ""


def test_get_without_a_workspace_names_the_discovered_one(vault: Vault) -> None:
    result = cli(vault, "get", "NOPE", "--env", "prd", workspace=False)
    assert result.returncode == 1
    assert "'NOPE' is not set in workspace 'acme', environment 'prd'" in one_error_line(result.stderr)
    result = cli(vault, "-v", "export", "--format", "json", workspace=False)  # the token's only env
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == PRD_SECRETS
    assert result.stderr.splitlines() == [
        "secretvault: GET /api/v1/workspaces/ -> 200",
        "secretvault: workspace 'acme' discovered from the token",
        "secretvault: GET /api/v1/workspaces/acme/load/ -> 200",
    ]


def test_run_variables_already_set_win(vault: Vault) -> None:
    code = show_env("API_KEY", "WORKERS")
    result = cli(vault, "run", "--env", "prd", "--", sys.executable, "-c", code, API_KEY="from-the-shell")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"API_KEY": "from-the-shell", "WORKERS": "4"}


def test_run_with_a_prefix_and_env_from_the_environment(vault: Vault) -> None:
    code = show_env("APP_WORKERS", "WORKERS")
    result = cli(vault, "run", "--prefix", "APP_", "--", sys.executable, "-c", code, SECRETVAULT_ENV="prd")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"APP_WORKERS": "4", "WORKERS": None}


def test_run_passes_the_exit_status_through(vault: Vault) -> None:
    result = cli(vault, "run", "--env", "prd", "--", sys.executable, "-c", "raise SystemExit(7)")
    assert result.returncode == 7
    assert result.stderr == ""


def test_run_unknown_command_exits_127(vault: Vault) -> None:
    result = cli(vault, "run", "--env", "prd", "--", "secretvault-no-such-command-xyz")
    assert result.returncode == 127
    assert "command not found: secretvault-no-such-command-xyz" in one_error_line(result.stderr)


def test_run_does_not_start_the_command_when_the_token_is_revoked(vault: Vault, make_token: Any) -> None:
    token, raw = make_token(envs=["prd"])
    services.revoke_token(token)
    result = cli(vault, "run", "--env", "prd", "--", sys.executable, "-c", "print('started')", token=raw)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert "HTTP 401" in line
    assert raw not in line


def test_export_dotenv_round_trips(vault: Vault) -> None:
    result = cli(vault, "export", "--env", "prd")
    assert result.returncode == 0, result.stderr
    assert {entry.key: entry.value for entry in dotenv.parse(result.stdout)} == PRD_SECRETS


def test_export_json(vault: Vault) -> None:
    result = cli(vault, "export", "--format", "json", SECRETVAULT_ENV="prd")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == PRD_SECRETS


def test_get_prints_the_value(vault: Vault) -> None:
    result = cli(vault, "get", "TRICKY", "--env", "prd")
    assert result.returncode == 0, result.stderr
    assert result.stdout == PRD_SECRETS["TRICKY"] + "\n"


def test_get_of_a_missing_key_exits_1_naming_it(vault: Vault) -> None:
    result = cli(vault, "get", "NOPE", "--env", "prd")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "'NOPE' is not set in workspace 'acme', environment 'prd'" in one_error_line(result.stderr)


def test_flags_override_the_environment(vault: Vault, other_workspace: Any) -> None:
    # The variables name the other workspace (404 for this token); the flag wins.
    result = cli(vault, "get", "WORKERS", "-w", "acme", "--env", "prd", SECRETVAULT_WORKSPACE="globex")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "4\n"
    result = cli(vault, "get", "WORKERS", "--env", "prd", SECRETVAULT_WORKSPACE="globex")
    assert result.returncode == 1
    assert "HTTP 404" in one_error_line(result.stderr)


def test_in_process_get_and_export(
    vault: Vault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ["--url", vault.url, "-w", "acme", "--env", "prd"]
    monkeypatch.setenv("SECRETVAULT_TOKEN", vault.read_token)
    assert main(["get", "WORKERS", *options]) == 0
    assert capsys.readouterr().out == "4\n"
    assert main(["export", "--format", "json", *options]) == 0
    assert json.loads(capsys.readouterr().out) == PRD_SECRETS


def test_dotenv_export_refuses_an_unwritable_value_and_notes_what_django_environ_misreads(
    vault: Vault, make_secret: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ["--url", vault.url, "-w", "acme", "--env", "prd"]
    monkeypatch.setenv("SECRETVAULT_TOKEN", vault.read_token)
    make_secret("MULTI", "a\nb", envs=["prd"])
    assert main(["export", *options]) == 0
    captured = capsys.readouterr()
    assert "notice: django-environ's read_env will not read back" in captured.err
    assert "MULTI" in captured.err and "a\nb" not in captured.err
    make_secret("SEPARATED", "x\u2028INJECTED=1", envs=["prd"])
    assert main(["export", *options]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "SEPARATED contains U+2028" in one_error_line(captured.err)
    assert "INJECTED" not in captured.err
