"""Write dotenv text that python-dotenv and django-environ read back as it was written.

Each value goes in double quotes with only the escapes that python-dotenv
(``interpolate=False``) and django-environ's ``read_env`` read alike: ``\\\\`` and
``\\"``. Tab, ``$``, backtick, ``'`` and ``#`` are written as they are (python-dotenv has
no ``\\$``: an escaped dollar would come back with its backslash), so a POSIX shell
that *sources* the file would expand ``$`` and backticks: load it with a dotenv
reader or ``secretvault run``, never ``source``. Line breaks ``\\n`` and ``\\r`` and the
controls VT and FF are escaped (``\\n \\r \\v \\f``): python-dotenv and secretvault's
``import`` read them back exactly, django-environ does not (``cannot_read_back`` names
those keys). The separators that django-environ (``str.splitlines``) takes as line
breaks but no dotenv escape can express -- U+001C-U+001E, NEL U+0085, U+2028, U+2029
-- make ``serialize`` refuse the value (``UnrepresentableValueError``, naming the key):
written raw, the rest of the value would read as a line of its own, even as another
variable.

The reader lives in the Django distribution (``secretvault.dotenv``, used by
``manage.py secretvault import``), which re-exports this writer. Tests:
tests/test_dotenv.py, tests/test_dotenv_interop.py (the peer tools themselves).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\x0b": "\\v", "\x0c": "\\f"}
_NEEDS_ESCAPE = re.compile("[" + re.escape("".join(_ESCAPED)) + "]")
#: Line separators of ``str.splitlines`` (which django-environ's ``read_env`` uses)
#: that python-dotenv has no escape for: such a value cannot be written at all.
UNWRITABLE = {
    "\x1c": "U+001C (file separator)",
    "\x1d": "U+001D (group separator)",
    "\x1e": "U+001E (record separator)",
    "\x85": "U+0085 (next line, NEL)",
    "\u2028": "U+2028 (line separator)",
    "\u2029": "U+2029 (paragraph separator)",
}
_UNWRITABLE = re.compile("[" + "".join(UNWRITABLE) + "]")
#: Characters written as escapes that django-environ's ``read_env`` does not decode
#: (it keeps ``\\n``, ``\\r`` as two characters and turns ``\\v``, ``\\f`` into ``v``, ``f``).
_ENVIRON_MISREADS = re.compile("[\n\r\x0b\x0c]")


class UnrepresentableValueError(ValueError):
    """Some values cannot be written as dotenv; ``keys`` names them (never the values)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.keys = list(problems)
        details = "; ".join(f"{key} contains {what}" for key, what in problems.items())
        super().__init__(
            f"cannot write these values as dotenv: {details}. django-environ and other "
            "readers split lines at such a character and dotenv has no escape for it; "
            "export them as JSON instead."
        )


def quote(value: str) -> str:
    """``value`` as one double-quoted dotenv value, on one line.

    Raises ``ValueError`` for a character of ``UNWRITABLE`` (without the value).
    """
    found = _UNWRITABLE.search(value)
    if found is not None:
        raise ValueError(f"cannot write {UNWRITABLE[found.group()]} in a dotenv value.")
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _ESCAPED[match.group()], value) + '"'


def serialize(values: Mapping[str, str]) -> str:
    """``KEY="value"`` lines, in the mapping's order, each ending in a newline.

    Raises ``ValueError`` for a key that is not an environment variable name, and
    ``UnrepresentableValueError`` naming every key whose value holds a character of
    ``UNWRITABLE``. Messages never include a value.
    """
    problems: dict[str, str] = {}
    lines = []
    for key, value in values.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid environment variable name.")
        found = _UNWRITABLE.search(value)
        if found is not None:
            problems[key] = UNWRITABLE[found.group()]
            continue
        lines.append(f"{key}={quote(value)}\n")
    if problems:
        raise UnrepresentableValueError(problems)
    return "".join(lines)


def cannot_read_back(values: Mapping[str, str]) -> dict[str, list[str]]:
    """Which readers will not read ``serialize(values)`` back exactly, and for which keys.

    ``{"django-environ": [keys]}`` for values holding a line break, VT or FF, which
    django-environ's ``read_env`` does not unescape (its ``env.str(KEY, multiline=True)``
    turns ``\\n`` back into a line break). python-dotenv with ``interpolate=False``
    reads every value ``serialize`` writes; with interpolation on (its default),
    ``${NAME}`` inside a value is expanded.
    """
    misread = [key for key, value in values.items() if _ENVIRON_MISREADS.search(value)]
    return {"django-environ": misread} if misread else {}


def reader_notice(values: Mapping[str, str]) -> str | None:
    """One sentence for stderr naming the keys some reader will not read back exactly, or ``None``."""
    misread = cannot_read_back(values).get("django-environ")
    if not misread:
        return None
    return (
        f"django-environ's read_env will not read back {', '.join(misread)} exactly: it keeps "
        "the \\n and \\r escapes of a multi-line value as two characters (env.str(KEY, "
        "multiline=True) turns \\n back into a line break); python-dotenv and "
        "'manage.py secretvault import' read every value exactly."
    )
