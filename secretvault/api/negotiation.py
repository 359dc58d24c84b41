"""Content negotiation of the API: DRF's, without the parsing when there is nothing to choose.

Every API view renders JSON only. DRF's ``DefaultContentNegotiation`` still parses
the ``Accept`` header and orders its media types on every request; for the headers
nearly every client sends (none, ``*/*``, ``application/json``) the answer is known,
so it is given at once (issue #14.1). Any other header, a ``?format=`` override, a
format suffix or a view with several renderers goes through DRF unchanged (406 and
404 included).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class VaultContentNegotiation(DefaultContentNegotiation):
    """``DefaultContentNegotiation`` with the answer for a lone renderer and a plain ``Accept``."""

    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        """``(renderer, media type)``, as DRF would choose them (``tests/api/test_negotiation.py``)."""
        renderers = list(renderers)
        if len(renderers) == 1 and not format_suffix:
            override = self.settings.URL_FORMAT_OVERRIDE
            if not override or override not in request.query_params:
                renderer = renderers[0]
                accept = request.META.get("HTTP_ACCEPT", "*/*")
                if accept == "*/*" or accept == renderer.media_type:
                    return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
