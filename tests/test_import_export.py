"""``manage.py secretvault import`` and ``export`` at the edges other tools create.

Errors name a line (or a JSON entry), never its text; a value split over two lines
is refused; files python-dotenv writes import unchanged; export refuses what it
cannot write and names the keys a reader will not read back exactly.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import dotenv as python_dotenv
import pytest

from secretvault import services
from secretvault.models import Secret
from tests.test_command import Cli, snapshot
from tests.test_command import cli as cli  # the fixture, shared with test_command.py

SECRETISH = "ghp_R3alL00kingT0kenValue0123456789abcd"


@pytest.fixture
def acme(workspace: Any, prd: Any) -> Any:
    return workspace


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"A=1\nexport https://x-access-token:{SECRETISH}@github.com/org/repo\n", "line 2"),
        (f"A=1\n{SECRETISH}\n", "line 2"),
        (f"A=1\n\n{SECRETISH}+/x=1\n", "line 3"),
        (f"A=1\n1{SECRETISH}=1\n", "line 2"),
        (f'A=1\nB="{SECRETISH}\n', "line 2"),
        (f"A=1\nB='{SECRETISH}'{SECRETISH}\n", "line 2"),
        (f"A=1\nB=1\nB={SECRETISH}\n", "line 3"),
    ],
)
def test_import_errors_name_the_line_never_the_text(cli: Cli, acme: Any, text: str, where: str) -> None:
    before = snapshot()
    result = cli("import", "-", "-w", "acme", stdin=text)
    assert result.code == 1
    error = result.error()
    assert f"{where}: " in error
    assert SECRETISH[:12] not in error and "x-access" not in error and "Traceback" not in result.err
    assert snapshot() == before


def test_json_errors_name_the_entry_never_the_key(cli: Cli, acme: Any) -> None:
    long_key = "K" + SECRETISH * 130  # over 5,000 characters
    for data, where in (
        ({"GOOD": "1", long_key: "x"}, "entry 2: "),
        ({"GOOD": "1", SECRETISH + "-x": "x"}, "entry 2: "),
        ({"GOOD": "1", SECRETISH: 7}, "entry 2: the value must be a string"),
    ):
        error = cli("import", "-", "-w", "acme", stdin=json.dumps(data)).error()
        assert where in error
        assert SECRETISH[:12] not in error and len(error) < 400


def test_an_empty_value_with_its_content_on_the_next_line_is_refused(cli: Cli, acme: Any) -> None:
    text = f"A=1\nGOOGLE_CREDENTIALS=\n{'eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0' + SECRETISH}==\nB=2\n"
    before = snapshot()
    error = cli("import", "-", "-w", "acme", stdin=text).error()
    assert "line 2: an empty value followed by line 3, which is not a KEY=VALUE assignment" in error
    assert SECRETISH[:12] not in error and "eyJ0" not in error
    assert snapshot() == before


def test_a_lone_cr_separates_lines(cli: Cli, acme: Any) -> None:
    result = cli("import", "-", "-w", "acme", stdin="a=b\rc=d\r")
    assert result.out.startswith("Imported 2 secrets"), result.err
    assert services.load(acme) == {"a": "b", "c": "d"}


def test_a_crlf_file_imports_as_python_dotenv_reads_it(cli: Cli, acme: Any, tmp_path: Path) -> None:
    # A hand-written Windows file: BOM, comment, export, a PEM in double quotes over lines.
    text = (
        '\ufeff# app\r\nexport A="1"\r\n'
        'PEM="-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----"\r\nE=\r\nCR="x\\ry"\r\n'
    )
    path = tmp_path / ".env"
    path.write_bytes(text.encode("utf-8"))
    assert cli("import", str(path), "-w", "acme").ok
    expected = {"A": "1", "PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----", "E": "", "CR": "x\ry"}
    assert services.load(acme) == expected == python_dotenv.dotenv_values(path)


def test_a_file_python_dotenv_set_key_wrote_imports_unchanged(cli: Cli, acme: Any, tmp_path: Path) -> None:
    values = {
        "WIN_PATH": "C:\\Users\\svc",
        "QUOTE": "b'c",
        "BOTH": "it's \\'odd\\' \\",
        # (no CR: python-dotenv rewrites the file for each set_key, translating CRLF itself)
        "PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
        "DOLLAR": "$HOME ${PATH}",
        "EMPTY": "",
    }
    path = tmp_path / ".env"
    for key, value in values.items():
        python_dotenv.set_key(path, key, value)
    assert cli("import", str(path), "-w", "acme").ok
    assert services.load(acme) == values


def export(cli: Cli, *extra: str) -> Any:
    return cli("export", "-w", "acme", "--env", "prd", *extra)


def test_export_refuses_a_value_it_cannot_write_naming_the_key(cli: Cli, acme: Any) -> None:
    services.create_secret(acme, key="FINE", value="ok")
    services.create_secret(acme, key="SEPARATED", value="first\u2028INJECTED=1")
    result = export(cli)
    assert result.code == 1 and result.out == ""
    assert "SEPARATED contains U+2028 (line separator)" in result.error()
    assert "INJECTED" not in result.err and "Traceback" not in result.err
    assert json.loads(export(cli, "--format", "json").out)["SEPARATED"] == "first\u2028INJECTED=1"


def test_export_is_read_back_by_python_dotenv_and_names_what_django_environ_misreads(
    cli: Cli, acme: Any
) -> None:
    values = {"DOLLAR": "$HOME `id` ${X}", "PEM": "a\nb", "TAB": "\t'\"\\"}
    for key, value in values.items():
        services.create_secret(acme, key=key, value=value)
    result = export(cli)
    assert result.ok
    assert python_dotenv.dotenv_values(stream=io.StringIO(result.out), interpolate=False) == values
    assert "notice: django-environ's read_env will not read back PEM exactly" in result.err
    assert "a\nb" not in result.err


def test_export_without_multi_line_values_prints_no_notice(cli: Cli, acme: Any) -> None:
    services.create_secret(acme, key="A", value="$x")
    result = export(cli)
    assert result.ok and result.out == 'A="$x"\n' and result.err == ""
    assert not Secret.objects.filter(key="B").exists()
