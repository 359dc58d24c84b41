"""Read and write dotenv files as python-dotenv and django-environ do, without depending on them.

Reading (``parse``) follows python-dotenv 1.x, the de facto grammar:

- a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``; a UTF-8 BOM at the start is ignored;
- blank lines and ``#`` comment lines; an optional ``export`` prefix; a key is the text
  before ``=`` (no blank, ``#`` or ``=`` in it) or a single-quoted ``'key'``, and its
  validity as a variable name is left to the caller;
- an unquoted value runs to the end of the line; a blank-preceded `` # comment`` and
  trailing blanks are cut, and ``KEY= # comment`` is empty;
- a single-quoted value is literal except for ``\\\\`` and ``\\'`` (what python-dotenv's
  ``set_key`` writes); a double-quoted value knows the escapes ``\\\\ \\' \\" \\a \\b \\f
  \\n \\r \\t \\v``, keeps any other backslash as written, and may span lines;
- a comment may follow a quoted value;
- no variable expansion: ``$HOME`` and ``${HOME}`` are kept as written.

Where python-dotenv skips a line it cannot read (with a log warning), ``parse`` raises
``DotenvError`` naming the line, never the text on it (that text may be a secret):
an unterminated quote, text after a closing quote, a line without ``=``. It also
refuses a bare ``KEY=`` followed by a line that is not an assignment (``KEY=`` then a
base64 line is a value split in two, not an empty value and a second key).

Writing (``serialize``, ``quote``, ``cannot_read_back``) lives in the client
distribution, ``secretvault_client.dotenv``, re-exported here: ``manage.py secretvault
export`` and the client's ``secretvault export`` write the same text. Values go in
double quotes with only the escapes python-dotenv and django-environ read alike; a
value holding a line separator that no dotenv escape expresses is refused, naming its
key (``UnrepresentableValueError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from secretvault_client.dotenv import (
    UNWRITABLE,
    UnrepresentableValueError,
    cannot_read_back,
    quote,
    reader_notice,
    serialize,
)

__all__ = [
    "UNWRITABLE",
    "DotenvError",
    "Entry",
    "UnrepresentableValueError",
    "cannot_read_back",
    "parse",
    "quote",
    "reader_notice",
    "serialize",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
# Blanks that do not end a line; python-dotenv's "whitespace" is Unicode-wide.
_SPACE = r"[^\S\r\n]"
_BLANKS = re.compile(r"\s*")
_EXPORT = re.compile(rf"export{_SPACE}+")
_BARE_KEY = re.compile(r"[^=#\s]+")
_QUOTED_KEY = re.compile(r"'([^']+)'")
_EQUALS = re.compile(rf"{_SPACE}*=({_SPACE}*)")
_SINGLE = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_DOUBLE = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_SINGLE_ESCAPE = re.compile(r"\\([\\'])")
_DOUBLE_ESCAPE = re.compile(r"""\\([\\'"abfnrtv])""")
_DOUBLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_REST_OF_LINE = re.compile(r"[^\r\n]*")
_UNQUOTED_COMMENT = re.compile(r"\s+#.*")
_TAIL = re.compile(rf"{_SPACE}*(?:#[^\r\n]*)?(?:\r\n|\n|\r|\Z)")
_LINE_END = re.compile(rf"{_SPACE}*(?:\r\n|\n|\r|\Z)")


class DotenvError(ValueError):
    """The text is not dotenv that ``parse`` accepts. ``line`` is 1-based; the message
    names the line, never its text."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True)
class Entry:
    """One assignment: the key as written (not checked), the value, its 1-based line."""

    key: str
    value: str
    line: int


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.removeprefix("\ufeff")
        self.pos = 0
        self.line = 1

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found is not None:
            self.line += len(_LINE_BREAK.findall(found.group()))
            self.pos = found.end()
        return found

    def entries(self) -> list[Entry]:
        found: list[Entry] = []
        bare_empty_line = 0  # the line of a preceding "KEY=" with nothing after it
        while True:
            before = self.line
            self.take(_BLANKS)
            if self.pos >= len(self.text):
                return found
            if self.line != before:
                bare_empty_line = 0  # a blank line in between: the empty value was meant
            line = self.line
            start = self.pos
            if self.take(_EXPORT) is not None and not self.text.startswith("#", self.pos):
                self.pos = start  # "export " before a key; read again by assignment()
            if self.text.startswith("#", self.pos):  # a comment (python-dotenv: "export #" too)
                self.take(_REST_OF_LINE)
                self.take(_LINE_END)
                bare_empty_line = 0
                continue
            entry, bare_empty = self.assignment(line, after_bare_empty=bare_empty_line)
            found.append(entry)
            bare_empty_line = line if bare_empty else 0

    def assignment(self, line: int, after_bare_empty: int) -> tuple[Entry, bool]:
        def refuse(message: str) -> DotenvError:
            if after_bare_empty:
                return DotenvError(
                    after_bare_empty,
                    f"an empty value followed by line {line}, which is not a KEY=VALUE "
                    "assignment: is a value split over two lines? Put a multi-line value "
                    'in double quotes with \\n escapes, and write KEY="" for an empty one.',
                )
            return DotenvError(line, message)

        self.take(_EXPORT)
        quoted_key = self.text.startswith("'", self.pos)
        key_match = self.take(_QUOTED_KEY if quoted_key else _BARE_KEY)
        equals = self.take(_EQUALS) if key_match is not None else None
        if key_match is None or equals is None:
            raise refuse("expected KEY=VALUE.")
        key = key_match.group(1) if quoted_key else key_match.group()
        if after_bare_empty and not (_NAME.fullmatch(key) and not self.text.startswith("=", self.pos)):
            raise refuse("")
        opening = self.text[self.pos : self.pos + 1]
        if opening in ("'", '"'):
            value = self.quoted(line, opening)
            if self.take(_TAIL) is None:
                raise DotenvError(self.line, "unexpected text after the closing quote.")
            return Entry(key, value, line), False
        blanks_after_equals = bool(equals.group(1))
        raw = self.take(_REST_OF_LINE).group()  # type: ignore[union-attr]  # matches empty
        self.take(_LINE_END)
        if blanks_after_equals and raw.startswith("#"):
            return Entry(key, "", line), False  # "KEY= # comment": empty on purpose
        value = _UNQUOTED_COMMENT.sub("", raw).rstrip()
        return Entry(key, value, line), not raw.strip()

    def quoted(self, line: int, quote: str) -> str:
        if quote == "'":
            found = self.take(_SINGLE)
            if found is None:
                raise DotenvError(line, "unterminated single-quoted value.")
            return _SINGLE_ESCAPE.sub(lambda m: m.group(1), found.group(1))
        found = self.take(_DOUBLE)
        if found is None:
            raise DotenvError(line, "unterminated double-quoted value.")
        return _DOUBLE_ESCAPE.sub(lambda m: _DOUBLE_ESCAPES[m.group(1)], found.group(1))


def parse(text: str) -> list[Entry]:
    """The assignments in ``text``, in order (duplicates included: the caller decides).

    Raises ``DotenvError`` (a ``ValueError``) naming the first line it cannot read.
    """
    return _Reader(text).entries()
