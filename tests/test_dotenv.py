"""dotenv writing and reading: awkward values round-trip; hand-written files parse.

Interoperability with python-dotenv and django-environ: tests/test_dotenv_interop.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretvault import dotenv

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
WRITABLE = st.text(
    alphabet=st.characters(blacklist_characters=["\x00", *dotenv.UNWRITABLE], blacklist_categories=["Cs"])
)

AWKWARD = {
    "NEWLINES": "one\ntwo\r\nthree\rfour\n",
    "QUOTES": "it's \"quoted\" and 'single'",
    "DOLLAR": "$HOME ${PATH} $(whoami) `id`",
    "HASH": "#not a comment # nor this",
    "BACKSLASH": 'C:\\path\\n\\\\ \\" \\$ trailing\\',
    "BLANKS": "  leading and trailing  \t",
    "EMPTY": "",
    "CONTROLS": "vt\x0b ff\x0c bel\x07 bs\x08 esc\x1b",
    "UNICODE": "ключ 🔑 \xa0 end",
}


def as_dict(text: str) -> dict[str, str]:
    return {entry.key: entry.value for entry in dotenv.parse(text)}


@given(st.dictionaries(KEYS, WRITABLE, max_size=8))
def test_serialize_then_parse_is_the_identity(values: dict[str, str]) -> None:
    assert as_dict(dotenv.serialize(values)) == values


def test_awkward_values_round_trip_and_each_stays_on_one_line() -> None:
    text = dotenv.serialize(AWKWARD)
    assert as_dict(text) == AWKWARD
    assert text.splitlines() == text.split("\n")[:-1]  # no other line separator written
    assert len(text.splitlines()) == len(AWKWARD)
    # No escapes python-dotenv does not know: $ and ` are written as they are.
    assert 'DOLLAR="$HOME ${PATH} $(whoami) `id`"\n' in text
    assert 'NEWLINES="one\\ntwo\\r\\nthree\\rfour\\n"\n' in text
    assert 'CONTROLS="vt\\v ff\\f bel\x07 bs\x08 esc\x1b"\n' in text
    assert 'BLANKS="  leading and trailing  \t"\n' in text


@pytest.mark.parametrize("char", sorted(dotenv.UNWRITABLE))
def test_serialize_refuses_a_line_separator_it_cannot_escape_naming_the_key(char: str) -> None:
    with pytest.raises(dotenv.UnrepresentableValueError) as caught:
        dotenv.serialize({"FINE": "x", "BAD": f"top{char}SECRET=1", "ALSO_BAD": char})
    assert caught.value.keys == ["BAD", "ALSO_BAD"]
    message = str(caught.value)
    assert "BAD contains U+" in message and "JSON" in message
    assert "SECRET" not in message and "top" not in message


def test_cannot_read_back_names_the_keys_django_environ_misreads() -> None:
    assert dotenv.cannot_read_back({"A": "plain $x 'q' \"d\" \\ \t"}) == {}
    assert dotenv.cannot_read_back({"PEM": "a\nb", "OK": "x", "CR": "\r", "VT": "\x0b", "FF": "\x0c"}) == {
        "django-environ": ["PEM", "CR", "VT", "FF"]
    }


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
        'DOUBLE="tab\\there \\q kept \\$ too"\n'
        'MULTI="first\n'
        'second"\n'
        "MULTI_SINGLE='a\n"
        "b'\n"
        "CRLF=windows\r\n"
        'QUOTED_CRLF="x"\r\n'
        "export=not a prefix\n"
        "SET_KEY='C:\\\\Users\\\\svc \\'quoted\\''\n"
        "COMMENT_ONLY= # nothing here\n"
        "'QUOTED_KEY'=q\n"
        "LAST=no newline at the end"
    )
    assert dotenv.parse(text) == [
        dotenv.Entry("EXPORTED", "yes", 3),
        dotenv.Entry("SPACED", "value with spaces", 4),
        dotenv.Entry("HASH", "a#b", 5),
        dotenv.Entry("EMPTY", "", 6),
        dotenv.Entry("SINGLE", 'literal \\n $HOME "x"', 7),
        dotenv.Entry("DOUBLE", "tab\there \\q kept \\$ too", 8),
        dotenv.Entry("MULTI", "first\nsecond", 9),
        dotenv.Entry("MULTI_SINGLE", "a\nb", 11),
        dotenv.Entry("CRLF", "windows", 13),
        dotenv.Entry("QUOTED_CRLF", "x", 14),
        dotenv.Entry("export", "not a prefix", 15),
        dotenv.Entry("SET_KEY", "C:\\Users\\svc 'quoted'", 16),
        dotenv.Entry("COMMENT_ONLY", "", 17),
        dotenv.Entry("QUOTED_KEY", "q", 18),
        dotenv.Entry("LAST", "no newline at the end", 19),
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_line_ending_separates_lines_and_counts_them(ending: str) -> None:
    text = ending.join(["a=b", "c=d", "", "# comment", 'e="x' + ending + 'y"', "f=g"])
    assert dotenv.parse(text) == [
        dotenv.Entry("a", "b", 1),
        dotenv.Entry("c", "d", 2),
        dotenv.Entry("e", "x" + ending + "y", 5),
        dotenv.Entry("f", "g", 7),
    ]


def test_a_lone_cr_ends_an_unquoted_value() -> None:
    assert as_dict("a=b\rc=d") == {"a": "b", "c": "d"}


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
        ("OK=1\r\rs3cr3t-no-equals\r", 3, "expected KEY=VALUE"),
        ("=s3cr3t\n", 1, "expected KEY=VALUE"),
        ('A=1\nB="never closed\nC=3\n', 2, "unterminated double-quoted value"),
        ('B="ends in a backslash\\', 1, "unterminated double-quoted value"),
        ('B="escaped quote at the end\\"', 1, "unterminated double-quoted value"),
        ("A='never closed\n", 1, "unterminated single-quoted value"),
        ('A="x" trailing\n', 1, "unexpected text after the closing quote"),
        ("A=1\n\nB='x'y\n", 3, "unexpected text after the closing quote"),
        ("A=1\nexport https://x-access-token:s3cr3t@github.com/org/repo\n", 2, "expected KEY=VALUE"),
    ],
)
def test_errors_name_the_line_but_never_the_text(text: str, line: int, message: str) -> None:
    with pytest.raises(dotenv.DotenvError, match=message) as caught:
        dotenv.parse(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    for secretish in ("never closed", "trailing", "no equals", "backslash", "s3cr3t", "x-access", "quote at"):
        assert secretish not in str(caught.value)


B64 = "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50IiwicHJpdmF0ZV9rZXkiOiJzM2NyM3QifQ"


@pytest.mark.parametrize(
    "second_line",
    [
        B64,  # no "=" at all
        B64 + "==",  # padding reads as KEY "=" VALUE "="
        B64[:20] + "+/" + B64[20:] + "=",  # a key no variable can have
        "  -----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    ],
)
def test_an_empty_value_followed_by_a_non_assignment_is_refused(second_line: str) -> None:
    text = f"FIRST=1\nGOOGLE_CREDENTIALS=\n{second_line}\nLAST=2\n"
    with pytest.raises(dotenv.DotenvError, match="empty value followed by line 3") as caught:
        dotenv.parse(text)
    assert caught.value.line == 2
    assert B64[:10] not in str(caught.value) and "BEGIN" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "EMPTY=\nNEXT=1\n",
        "EMPTY=\n\nNEXT==\n",
        "EMPTY=  \n# a comment\nNEXT=1\n",
        'EMPTY=""\nNEXT=1\n',
        "EMPTY= # deliberately empty\nNEXT=1\n",
        "EMPTY=\nexport NEXT='1'\n",
        "EMPTY=",
    ],
)
def test_an_empty_value_followed_by_an_assignment_or_a_blank_is_fine(text: str) -> None:
    assert dotenv.parse(text)[0] == dotenv.Entry("EMPTY", "", 1)


def test_after_a_blank_line_a_non_assignment_is_an_ordinary_error() -> None:
    with pytest.raises(dotenv.DotenvError, match="line 3: expected KEY=VALUE"):
        dotenv.parse("EMPTY=\n\nnot an assignment\n")
