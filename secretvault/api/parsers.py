"""The API's request body parser: DRF's JSON parser, with every malformed body a 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class VaultJSONParser(JSONParser):
    """``JSONParser`` that answers a body nested too deeply for ``json`` with 400, not 500.

    The standard library's decoder recurses once per level of nesting, so a short body
    such as ``[[[[…`` raised ``RecursionError`` out of the request (a 500 and a
    traceback in the log).
    """

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
