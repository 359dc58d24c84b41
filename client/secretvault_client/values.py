"""``SecretValue``: a secret's value as a ``str``, with typed accessors and a masked ``repr``."""

from __future__ import annotations

import json
import math
from typing import Any

from secretvault_client.errors import InvalidValueError

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class SecretValue(str):
    """A secret's value. It *is* a ``str`` (compare it, pass it on, ``str()`` it), and knows its key.

    ``repr()`` hides the value, so a mapping of them can be printed or logged
    without leaking anything: ``SecretValue('DB_URL', <hidden>)``. The typed
    accessors raise ``InvalidValueError`` naming the key, never the value.
    """

    key: str

    def __new__(cls, key: str, value: str) -> SecretValue:
        if not isinstance(value, str):
            raise TypeError(f"The value of {key!r} must be a str, not {type(value).__name__}.")
        instance = super().__new__(cls, value)
        instance.key = key
        return instance

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # str takes one
        # Pickle and copy rebuild through __new__(key, value).
        return (self.key, str(self))

    def __repr__(self) -> str:
        return f"SecretValue({self.key!r}, <hidden>)"

    def __str__(self) -> str:
        return str.__str__(self)

    def to_bool(self) -> bool:
        """``true/false``, ``1/0``, ``yes/no``, ``on/off``, in any case, blanks around ignored."""
        word = self.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise InvalidValueError(self.key, "boolean (true/false, 1/0, yes/no, on/off)")

    def to_int(self) -> int:
        """A whole number as ``int()`` reads it (``"42"``, ``" -7 "``, ``"1_000"``)."""
        # The conversion error is dropped outside the ``except`` block: its message quotes
        # the text, and an exception's ``__context__`` travels into tracebacks and error trackers.
        try:
            number: int | None = int(self)
        except ValueError:
            number = None
        if number is None:
            raise InvalidValueError(self.key, "integer")
        return number

    def to_float(self) -> float:
        """A finite number as ``float()`` reads it (``"0.25"``, ``"1e3"``); NaN and infinities refused."""
        try:
            number: float | None = float(self)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise InvalidValueError(self.key, "finite number")
        return number

    def to_json(self) -> Any:
        """The value parsed as JSON (object, array, string, number, true/false/null)."""
        marker = _INVALID
        try:
            parsed = json.loads(self)
        except (ValueError, RecursionError):  # nested deeper than json recurses
            parsed = marker
        if parsed is marker:
            raise InvalidValueError(self.key, "JSON document")
        return parsed


_INVALID: Any = object()
