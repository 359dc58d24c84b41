"""An exception-reporter filter that hides secret values even when DEBUG is on.

Django's ``SafeExceptionReporterFilter`` cleanses variables marked with
``sensitive_variables`` and POST parameters marked with
``sensitive_post_parameters`` only when ``DEBUG`` is off; its technical 500
page shows everything in development. secretvault marks every frame that holds
a plaintext value, so with this filter those frames stay hidden on the
technical 500 page too::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "secretvault.debug.ExceptionReporterFilter"

Everything not marked sensitive is shown as usual.
"""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: Any) -> bool:
        return True
