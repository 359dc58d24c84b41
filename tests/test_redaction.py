"""``secretvault.redaction``: plaintext renders in a template but not in a repr or a log record."""

from __future__ import annotations

import logging
import pickle
import pprint
import sys

import pytest
from django.template import Context, Engine

from secretvault.redaction import CONCEALED, Concealed, TemplateContextFilter, install_log_filters

TEXT = "s3cret <b>&\nline two"


def test_concealed_renders_escaped_but_is_never_repred() -> None:
    value = Concealed(TEXT)
    html = (
        Engine()
        .from_string("<pre>{{ value }}</pre>{% if value %}yes{% endif %}")
        .render(Context({"value": value}))
    )
    assert html == "<pre>s3cret &lt;b&gt;&amp;\nline two</pre>yes"
    assert str(value) == TEXT
    context = Context({"value": value})
    for text in (repr(value), repr(context), pprint.pformat({"value": value}), f"{context!r}"):
        assert "s3cret" not in text
        assert CONCEALED in text
    assert not Concealed("")
    with pytest.raises(TypeError):
        pickle.dumps(value)


def test_filter_strips_the_context_from_variable_failures() -> None:
    """Django's DEBUG record for a failed lookup carries the context; filtered, it does not."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("django.template")
    handler = Keep(level=logging.DEBUG)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    install_log_filters()
    install_log_filters()  # idempotent
    try:
        Engine().from_string("{{ missing }}").render(Context({"value": TEXT}))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    assert sum(isinstance(f, TemplateContextFilter) for f in logger.filters) == 1
    (record,) = records
    assert "Exception while resolving variable 'missing'" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[2] is None  # no frames: they hold the context
    formatted = logging.Formatter().format(record)
    assert "missing" in formatted
    assert "s3cret" not in formatted and "s3cret" not in repr(vars(record))


def test_filter_leaves_other_records_alone() -> None:
    record = logging.LogRecord("django.template", logging.WARNING, __file__, 1, "plain %s", ("x",), None)
    assert TemplateContextFilter().filter(record) is True
    assert record.getMessage() == "plain x"
    try:
        raise ValueError("kept")
    except ValueError:
        other = logging.LogRecord(
            "django.template", logging.WARNING, __file__, 1, "include failed", (), sys.exc_info()
        )
    assert TemplateContextFilter().filter(other) is True
    assert other.exc_info is not None and other.exc_info[2] is not None
