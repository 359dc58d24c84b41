"""Write dotenv text that any dotenv reader and a POSIX shell read back unchanged.

Every value is double-quoted with the escapes ``\\\\ \\" \\n \\r \\t \\$ \\```, so a
value holding newlines, quotes, ``$``, ``#`` or backslashes survives a round trip and
a shell that sources the file expands nothing. The reader lives in the Django
distribution (``secretvault.dotenv``, used by ``manage.py secretvault import``); the
client only writes (``secretvault export``). tests/client/test_cli.py checks that
this writer and that reader agree on arbitrary values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = re.compile(r'[\\"\n\r\t$`]')
_ESCAPED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$", "`": "\\`"}


def quote(value: str) -> str:
    """``value`` as one double-quoted dotenv value, on one line."""
    return '"' + _SPECIAL.sub(lambda found: _ESCAPED[found.group()], value) + '"'


def serialize(values: Mapping[str, str]) -> str:
    """``KEY="value"`` lines in the mapping's order, each ending in a newline.

    Raises ``ValueError`` naming a key that is not an environment variable name
    (never the value).
    """
    out = []
    for key, value in values.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid environment variable name.")
        out.append(f"{key}={quote(value)}\n")
    return "".join(out)
