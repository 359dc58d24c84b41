"""Breaker finding: JSON nested deeper than the ``json`` module recurses escaped the client
as ``RecursionError``: a value's ``to_json()`` (a 64 KiB value of ``[`` is a legal value)
and a hostile server's answer. They are the client's own errors, as for any other
malformed JSON."""

from __future__ import annotations

import pytest

from secretvault_client import InvalidValueError, ProtocolError, SecretValue, SecretVaultError
from tests.client.conftest import Reply, Stub
from tests.client.test_delivery import stub_client


def test_to_json_of_a_deeply_nested_value_is_an_invalid_value() -> None:
    with pytest.raises(InvalidValueError):
        SecretValue("DOC", "[" * 60_000).to_json()


def test_a_deeply_nested_answer_is_a_client_error(stub: Stub) -> None:
    stub.script(Reply(200, b'{"secrets": ' * 60_000))
    with pytest.raises(SecretVaultError) as caught:
        stub_client(stub).load()
    assert isinstance(caught.value, ProtocolError), caught.value
