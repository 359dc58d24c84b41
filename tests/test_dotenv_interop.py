"""secretvault's dotenv against the peer tools themselves: python-dotenv and django-environ.

- Differential: the inputs of python-dotenv's own parser tests (and of its ``set_key``
  and ``dotenv_values`` tests), restated here as data, read by ``secretvault.dotenv.parse``
  and by python-dotenv. Where python-dotenv reads every line cleanly, we read the same
  pairs; where it skips a line (an error, or a key without ``=``), we refuse the file.
  A hypothesis fuzz over dotenv-ish text checks the same rule beyond those inputs.
- Round trips (hypothesis): ``serialize`` -> python-dotenv (``interpolate=False``) gives
  every value back; ``serialize`` -> django-environ's ``read_env`` gives back exactly the
  values ``cannot_read_back`` does not name, and never an extra variable; python-dotenv's
  ``set_key`` -> ``parse`` gives every value back.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import dotenv as python_dotenv
import environ
import pytest
from dotenv.parser import parse_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretvault import dotenv

# The inputs of python-dotenv's tests/test_parser.py (test_parse_stream), grouped by
# what they exercise. Expected results are not copied: python-dotenv computes them.
PARSER_INPUTS = {
    "empty and blank": ["", "\n\n", "a=b\n\n", "a=b\n\nc=d"],
    "keys": ["a=b", "'a'=b", "[=b", " a = b ", 'uglyKey[%$="S3cr3t_P4ssw#rD" #\na=b'],
    "export": ["export a=b", " export 'a'=b", "export export_a=1", "export port=8000"],
    "comments": [
        "# a=b",
        "a=b#c",
        "a=b #c",
        "a= #c",
        "a=  # comment",
        "a=#b",
        "a=b\t#c",
        "a=b\n# comment 1",
        "# comment 1\n# comment 2",
        '# comment\na="b\nc"\nd=e\n',
    ],
    "unquoted blanks": ["a=b c", "a=b\tc", "a=b  c", "a=b\u00a0 c", "a=b c "],
    "quotes": [
        "a='b c '",
        'a="b c "',
        'a="b\nc"',
        "a='b\nc'",
        'a="b\\nc"',
        "a='b\\nc'",
        'a="b\\"c"',
        "a='b\\'c'",
        "a='b\\\\c'",
        'a="b\\\\c"',
    ],
    "unicode": ["a=à", 'a="à"', "\ufeffa=b", "\ufeffa=b\nc=d"],
    "line endings": ["a=b\nc=d", "a=b\rc=d", "a=b\r\nc=d", "a=\nb=c"],
    "malformed": ["no_value_var", "a: b", 'a="\nb=c'],
}
# What python-dotenv's tests/test_main.py feeds to set_key (the values) and to
# dotenv_values without interpolation (the texts).
SET_KEY_VALUES = ["", "b", "'b'", '"b"', "b'c", 'b"c', "é"]
NO_INTERPOLATION_INPUTS = ["a=$b", "a=${b}", "a=${b:-d}", "b=c\na=${b}", "a=x${b}y"]
# Ours: what the issue reports and what hand-written files contain.
OWN_INPUTS = [
    "a=b\rc=d\r",
    "PATH_WIN='C:\\\\Users\\\\svc'",
    'A="tab\\tvt\\vff\\fbell\\abs\\b\\q\\$"',
    "A='it\\'s'  # comment\r\nB=2",
    "export #not a key\nA=1",
    "A=\x0bvt\x0c x\x85 y\u2028",
    "A=1\n\x85\u2028 B=2",
]
ALL_INPUTS = (
    [text for group in PARSER_INPUTS.values() for text in group] + NO_INTERPOLATION_INPUTS + OWN_INPUTS
)


def python_dotenv_reading(text: str) -> tuple[list[tuple[str, str]], bool]:
    """python-dotenv's pairs, and whether it read every line (no error, no key without a value)."""
    pairs: list[tuple[str, str]] = []
    clean = True
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            clean = False
        elif binding.key is not None:
            assert binding.value is not None
            pairs.append((binding.key, binding.value))
    return pairs, clean


def agree_or_refuse(text: str) -> None:
    theirs, clean = python_dotenv_reading(text)
    try:
        ours = [(entry.key, entry.value) for entry in dotenv.parse(text)]
    except dotenv.DotenvError as exc:
        # We refuse what python-dotenv skips, and a bare "KEY=" followed by a non-assignment.
        assert not clean or "an empty value followed by line" in str(exc), (text, theirs, exc)
        return
    assert clean, (text, theirs, ours)
    assert ours == theirs, text


@pytest.mark.parametrize("text", ALL_INPUTS)
def test_python_dotenv_test_inputs_read_the_same_or_are_refused(text: str) -> None:
    agree_or_refuse(text)


def test_the_malformed_inputs_are_refused_and_the_rest_agree() -> None:
    for text in ALL_INPUTS:
        clean = python_dotenv_reading(text)[1]
        if clean:
            dotenv.parse(text)
        else:
            with pytest.raises(dotenv.DotenvError):
                dotenv.parse(text)
    assert not any(python_dotenv_reading(text)[1] for text in PARSER_INPUTS["malformed"])


def test_without_interpolation_dollar_expressions_stay_as_written() -> None:
    for text in NO_INTERPOLATION_INPUTS:
        values = python_dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False)
        assert {entry.key: entry.value for entry in dotenv.parse(text)} == values


FUZZ_PIECES = st.sampled_from(
    ["a", "B_1", "=", "'", '"', "\\", "#", " ", "\t", "\n", "\r", "\r\n", "export ", "$", "x y"]
    + ["\x0b", "\x0c", "\x85", "\u2028", "\xa0", "\ufeff", "é", "==", "\\n", "\\'", '\\"']
)


@settings(max_examples=400, deadline=None)
@given(st.lists(FUZZ_PIECES, max_size=14).map("".join))
def test_fuzz_python_dotenv_and_parse_agree_or_we_refuse(text: str) -> None:
    agree_or_refuse(text)


# ------------------------------------------------------------------------------------
# Round trips

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
ANY_TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
AWKWARD_CHARS = st.sampled_from(
    list("\n\r\t\x0b\x0c\x07\x08 '\"\\$`#=") + ["${HOME}", "\\n", "\\$", "\xa0", "é", "🔑", " # c"]
)
VALUES = st.lists(st.one_of(AWKWARD_CHARS, ANY_TEXT), max_size=12).map("".join)
WRITABLE_VALUES = VALUES.filter(lambda value: not any(char in value for char in dotenv.UNWRITABLE))
ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_export_is_read_back_exactly_by_python_dotenv_or_refused(values: dict[str, str]) -> None:
    try:
        text = dotenv.serialize(values)
    except dotenv.UnrepresentableValueError as exc:
        assert exc.keys == [
            key for key, value in values.items() if any(c in value for c in dotenv.UNWRITABLE)
        ]
        return
    read = python_dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False)
    assert read == values


class _CapturedEnv(environ.Env):
    """django-environ reading into a dict of its own instead of ``os.environ``."""

    ENVIRON: dict[str, str] = {}  # noqa: RUF012 - replaced per read


def django_environ_reading(text: str) -> dict[str, str]:
    _CapturedEnv.ENVIRON = {}
    _CapturedEnv.read_env(io.StringIO(text), overwrite=True)
    return dict(_CapturedEnv.ENVIRON)


@ROUND_TRIP
@given(st.dictionaries(KEYS, WRITABLE_VALUES, max_size=6))
def test_export_is_read_back_by_django_environ_except_what_cannot_read_back_names(
    values: dict[str, str],
) -> None:
    read = django_environ_reading(dotenv.serialize(values))
    assert set(read) == set(values)  # no line of a value ever reads as another variable
    differing = [key for key in values if read[key] != values[key]]
    assert differing == dotenv.cannot_read_back(values).get("django-environ", [])


def test_django_environ_reads_single_line_awkward_values_exactly() -> None:
    values = {
        "DOLLAR": "$HOME ${PATH} `id`",
        "QUOTES": 'it\'s "quoted"',
        "BACKSLASHES": "C:\\Users\\svc\\ \\n \\\\",
        "HASH": "a #b",
        "TAB": "\tx\t",
        "EMPTY": "",
        "QUOTE_SHAPED": '"x"',
        "SINGLE_SHAPED": "'x'",
    }
    assert django_environ_reading(dotenv.serialize(values)) == values
    assert dotenv.cannot_read_back(values) == {}


@pytest.mark.parametrize("char", sorted(dotenv.UNWRITABLE))
def test_the_refused_characters_are_line_breaks_to_django_environ(char: str) -> None:
    """Why ``serialize`` refuses them: written raw, they would inject a variable."""
    raw = f'A="x{char}INJECTED=1"\n'
    assert "INJECTED" in django_environ_reading(raw)


@ROUND_TRIP
@given(key=KEYS, value=VALUES, mode=st.sampled_from(["always", "auto"]))
def test_what_python_dotenv_set_key_writes_is_imported_unchanged(key: str, value: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / ".env"
        path.write_text("BEFORE=1\n")
        python_dotenv.set_key(path, key, value, quote_mode=mode)
        text = path.read_bytes().decode("utf-8")  # as import reads: no newline translation
    entries = {entry.key: entry.value for entry in dotenv.parse(text)}
    assert entries[key] == value


@pytest.mark.parametrize("value", [*SET_KEY_VALUES, "C:\\Users\\svc", "b\\'c\\", "line\nbreak\r\n"])
def test_set_key_examples_import_unchanged(tmp_path: Any, value: str) -> None:
    path = tmp_path / ".env"
    python_dotenv.set_key(path, "A", value)
    assert dotenv.parse(path.read_bytes().decode("utf-8")) == [dotenv.Entry("A", value, 1)]


def test_os_environ_is_left_alone() -> None:
    before = dict(os.environ)
    django_environ_reading('SV_INTEROP_PROBE="x"\n')
    assert dict(os.environ) == before
