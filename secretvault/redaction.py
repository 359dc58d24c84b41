"""Keeping plaintext out of template contexts, log records and tracebacks (issue #10.2).

A template context is not private to its page: with the ``django.template``
logger at DEBUG, every variable that fails to resolve logs
``Exception while resolving variable …`` with the ``repr`` of the whole context
attached to the exception; the technical 500 page, error e-mails and error
trackers print the ``repr`` of the locals of every frame. So the few pages that
must show a secret value or a raw service token (the admin's reveal view and its
one-time token page) put it in their context as a :class:`Concealed`, which
renders as the text and is ``repr``'d as ``<concealed>``.

:class:`TemplateContextFilter` is the second line: installed on the
``django.template`` logger by ``SecretVaultConfig.ready()``, it rewrites those
"Exception while resolving variable" records so they name the variable and the
template but carry neither the context nor the traceback (whose frames hold it).
"""

from __future__ import annotations

import logging

from django.template.base import VariableDoesNotExist

CONCEALED = "<concealed>"
RESOLVING = "Exception while resolving variable"  # how Django's record begins


class Concealed:
    """A plaintext for one template: ``str()`` gives the text, ``repr()`` never does.

    ``{{ value }}`` renders (and HTML-escapes) ``str(value)``, so the page shows
    the text; ``pprint``, ``%r`` and ``repr`` of a context, a frame's locals or
    an exception show ``<concealed>``. Not a ``str`` subclass on purpose: string
    operations on it fail instead of silently producing a plain, loggable copy.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return CONCEALED

    def __bool__(self) -> bool:
        return bool(self._text)

    def __reduce__(self) -> tuple[object, ...]:
        # Never pickled into a cache or a session by accident.
        raise TypeError("a concealed value cannot be pickled")


class TemplateContextFilter(logging.Filter):
    """Strip the template context from ``django.template``'s variable-resolution records.

    Django logs ``Exception while resolving variable '%s' in template '%s'.`` at
    DEBUG with ``exc_info``; the exception (``VariableDoesNotExist``) formats
    the ``repr`` of the whole context, and its traceback's frames hold the
    context as locals. The record keeps its message (variable and template
    names); its exception is replaced by one naming only the looked-up key, with
    no traceback. Records are never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        exc = record.exc_info[1]
        resolving = isinstance(record.msg, str) and record.msg.startswith(
            "Exception while resolving variable"
        )
        if isinstance(exc, VariableDoesNotExist):
            key = exc.params[0] if exc.params else "?"
            summary = VariableDoesNotExist(
                "Failed lookup for key [%s] (context not logged: it may hold secret values)", (key,)
            )
            record.exc_info = (VariableDoesNotExist, summary, None)
            record.exc_text = None
        elif resolving:
            record.exc_info = (type(exc), exc, None)
            record.exc_text = None
        return True


def install_log_filters() -> None:
    """Add :class:`TemplateContextFilter` to the ``django.template`` logger, once."""
    logger = logging.getLogger("django.template")
    if not any(isinstance(existing, TemplateContextFilter) for existing in logger.filters):
        logger.addFilter(TemplateContextFilter())
