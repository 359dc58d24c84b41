"""dotenv writing and reading: awkward values round-trip; hand-written files parse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretvault import dotenv

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
VALUES = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))

AWKWARD = {
    "NEWLINES": "one\ntwo\r\nthree\rfour\n",
    "QUOTES": "it's \"quoted\" and 'single'",
    "DOLLAR": "$HOME ${PATH} $(whoami) `id`",
    "HASH": "#not a comment # nor this",
    "BACKSLASH": 'C:\\path\\n\\\\ \\" \\$ trailing\\',
    "BLANKS": "  leading and trailing  \t",
    "EMPTY": "",
    "UNICODE": "ключ 🔑 \u2028 \x0c \x85 end",
}


def as_dict(text: str) -> dict[str, str]:
    return {entry.key: entry.value for entry in dotenv.parse(text)}


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_serialize_then_parse_is_the_identity(values: dict[str, str]) -> None:
    assert as_dict(dotenv.serialize(values)) == values


def test_awkward_values_round_trip_and_each_stays_on_one_line() -> None:
    text = dotenv.serialize(AWKWARD)
    assert as_dict(text) == AWKWARD
    assert text.count("\n") == len(AWKWARD)
    assert 'DOLLAR="\\$HOME \\${PATH} \\$(whoami) \\`id\\`"\n' in text


def test_serialize_refuses_a_name_that_is_not_a_variable() -> None:
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        dotenv.serialize({"1BAD": "x"})


def test_hand_written_file() -> None:
    text = (
        "\ufeff# a comment\n"
        "\n"
        "export EXPORTED=yes\n"
        "  SPACED = value with spaces   # trailing comment\n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "SINGLE='literal \\n $HOME \"x\"' # comment\n"
        'DOUBLE="tab\\there \\q kept"\n'
        'MULTI="first\n'
        'second"\n'
        "MULTI_SINGLE='a\n"
        "b'\n"
        "CRLF=windows\r\n"
        'QUOTED_CRLF="x"\r\n'
        "export=not a prefix\n"
        "LAST=no newline at the end"
    )
    assert dotenv.parse(text) == [
        dotenv.Entry("EXPORTED", "yes", 3),
        dotenv.Entry("SPACED", "value with spaces", 4),
        dotenv.Entry("HASH", "a#b", 5),
        dotenv.Entry("EMPTY", "", 6),
        dotenv.Entry("SINGLE", 'literal \\n $HOME "x"', 7),
        dotenv.Entry("DOUBLE", "tab\there \\q kept", 8),
        dotenv.Entry("MULTI", "first\nsecond", 9),
        dotenv.Entry("MULTI_SINGLE", "a\nb", 11),
        dotenv.Entry("CRLF", "windows", 13),
        dotenv.Entry("QUOTED_CRLF", "x", 14),
        dotenv.Entry("export", "not a prefix", 15),
        dotenv.Entry("LAST", "no newline at the end", 16),
    ]


def test_duplicates_and_odd_names_are_left_to_the_caller() -> None:
    assert [(e.key, e.value) for e in dotenv.parse("A=1\nA=2\nmy.key=3\n")] == [
        ("A", "1"),
        ("A", "2"),
        ("my.key", "3"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("OK=1\nno equals sign here\n", 2, "expected KEY=VALUE"),
        ("=s3cr3t\n", 1, "expected KEY=VALUE"),
        ('A=1\nB="never closed\nC=3\n', 2, "unterminated double-quoted value"),
        ('B="ends in a backslash\\', 1, "unterminated double-quoted value"),
        ("A='never closed\n", 1, "unterminated single-quoted value"),
        ('A="x" trailing\n', 1, "unexpected text after the closing quote"),
        ("A=1\n\nB='x'y\n", 3, "unexpected text after the closing quote"),
    ],
)
def test_errors_name_the_line_but_never_the_text(text: str, line: int, message: str) -> None:
    with pytest.raises(dotenv.DotenvError, match=message) as caught:
        dotenv.parse(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    for secretish in ("never closed", "trailing", "no equals", "backslash", "s3cr3t"):
        assert secretish not in str(caught.value)
