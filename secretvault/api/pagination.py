"""Pagination of the API's lists: DRF page numbers, with the query parameters validated.

DRF's ``PageNumberPagination`` ignores a ``page_size`` it cannot read (``abc``, ``0``,
``-1``) and clamps one above the maximum; a client with a typo gets 50 results and no
word why. Here ``page`` and ``page_size`` are decimal integers within their bounds
(``page_size`` 1 to ``max_page_size``), or the answer is 400 naming the parameter, as
the OpenAPI document says (``minimum``/``maximum``; tests/api/test_schema.py).
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

_DIGITS = re.compile(r"[0-9]+")


class VaultPagination(PageNumberPagination):
    """``?page=N&page_size=M``: 50 per page by default, at most 500; anything else is 400."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def _check(self, request: Any, name: str, maximum: int | None) -> str | None:
        """The query parameter ``name``, checked to be a whole number in ``1..maximum``.

        Returns its digits without leading zeros (``None`` when absent); raises DRF's
        ``ValidationError`` (400) naming the parameter otherwise.
        """
        if name not in request.query_params:
            return None
        values = request.query_params.getlist(name)
        raw = values[-1] if values else ""
        digits = raw.lstrip("0")
        if len(values) > 1:
            message = "Give this parameter once."
        elif not _DIGITS.fullmatch(raw):
            message = "A whole number is required."
        elif not digits:
            message = "Ensure this value is greater than or equal to 1."
        elif maximum is not None and (len(digits) > len(str(maximum)) or int(digits) > maximum):
            message = f"Ensure this value is less than or equal to {maximum}."
        else:
            return digits
        raise exceptions.ValidationError({name: [message]})

    def get_page_size(self, request: Any) -> int:
        size = self._check(request, self.page_size_query_param, self.max_page_size)
        return self.page_size if size is None else int(size)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self._check(request, self.page_query_param, None)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "Page number, from 1. Past the last page: 404."
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
                parameter["description"] = f"Results per page, 1 to {self.max_page_size}."
        return parameters
