"""Read and write dotenv files, without a third-party dependency.

Writing: every value is double-quoted, with the escapes ``\\\\ \\" \\n \\r \\t \\$``
and ``\\```, so any value (newlines, quotes, ``$``, ``#``, backslashes) survives
a round trip and a POSIX shell that sources the file expands nothing.

Reading understands what people write by hand as well:

- blank lines and ``#`` comment lines, and an optional ``export `` prefix;
- double-quoted values with the escapes above (an unknown escape such as
  ``\\x`` is kept as written), which may span lines;
- single-quoted values, taken literally, which may span lines;
- unquoted values, up to the end of the line, with surrounding whitespace and
  a trailing `` # comment`` removed;
- a comment after a quoted value.

Errors name the line, never the text on it: that text may be a secret.

No Django import: the HTTP client (``secretvault.client``) uses this module too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An assignment: optional "export", a name, "=". Names are checked by the caller,
# so that an invalid one is reported by name rather than as a syntax error.
_ASSIGNMENT = re.compile(r"(?:export[ \t]+)?([^\s=#\"']+)[ \t]*=[ \t]*")
# What may follow a closing quote: blanks and an optional comment, then the line end.
_TAIL = re.compile(r"[ \t\r]*(?:#[^\n]*)?(?:\n|\Z)")
_INLINE_COMMENT = re.compile(r"[ \t]#")
_BLANK = re.compile(r"[ \t\r\n]*")
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')

_ESCAPES_OUT = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "$": "\\$",
    "`": "\\`",
}
_ESCAPES_IN = {
    "\\": "\\",
    '"': '"',
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "$": "$",
    "`": "`",
}
_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t$`]')


class DotenvError(ValueError):
    """The text is not valid dotenv. ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int


def quote(value: str) -> str:
    """``value`` as a double-quoted dotenv value."""
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _ESCAPES_OUT[match.group()], value) + '"'


def serialize(values: Mapping[str, str]) -> str:
    """``KEY="value"`` lines, in the mapping's order, each ending in a newline."""
    lines = []
    for key, value in values.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid environment variable name.")
        lines.append(f"{key}={quote(value)}\n")
    return "".join(lines)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text[1:] if text.startswith("\ufeff") else text
        self.pos = 0
        self.line = 1

    def advance(self, end: int) -> str:
        consumed = self.text[self.pos : end]
        self.line += consumed.count("\n")
        self.pos = end
        return consumed

    def entries(self) -> list[Entry]:
        found: list[Entry] = []
        text = self.text
        while True:
            self.advance(_BLANK.match(text, self.pos).end())  # type: ignore[union-attr]  # matches empty
            if self.pos >= len(text):
                return found
            if text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.advance(len(text) if end < 0 else end)
                continue
            line = self.line
            match = _ASSIGNMENT.match(text, self.pos)
            if match is None:
                raise DotenvError(line, "expected KEY=VALUE.")
            self.advance(match.end())
            found.append(Entry(match.group(1), self.value(line), line))

    def value(self, line: int) -> str:
        text = self.text
        opening = text[self.pos : self.pos + 1]
        if opening == '"':
            value = self.double_quoted(line)
        elif opening == "'":
            end = text.find("'", self.pos + 1)
            if end < 0:
                raise DotenvError(line, "unterminated single-quoted value.")
            value = self.advance(end + 1)[1:-1]
        else:
            end = text.find("\n", self.pos)
            raw = self.advance(len(text) if end < 0 else end)
            comment = _INLINE_COMMENT.search(raw)
            if comment is not None:
                raw = raw[: comment.start()]
            return raw.strip(" \t\r")
        tail = _TAIL.match(text, self.pos)
        if tail is None:
            raise DotenvError(self.line, "unexpected text after the closing quote.")
        self.advance(tail.end())
        return value

    def double_quoted(self, line: int) -> str:
        text = self.text
        parts: list[str] = []
        i = self.pos + 1
        while True:
            found = _QUOTE_OR_BACKSLASH.search(text, i)
            if found is None:
                raise DotenvError(line, "unterminated double-quoted value.")
            stop = found.start()
            parts.append(text[i:stop])
            if text[stop] == '"':
                self.advance(stop + 1)
                return "".join(parts)
            if stop + 1 >= len(text):
                raise DotenvError(line, "unterminated double-quoted value.")
            escaped = text[stop + 1]
            parts.append(_ESCAPES_IN.get(escaped, "\\" + escaped))
            i = stop + 2


def parse(text: str) -> list[Entry]:
    """The assignments in ``text``, in order (duplicates included: the caller decides)."""
    return _Reader(text).entries()
