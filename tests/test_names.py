"""Names match their pattern as a whole string, at every door (SPEC §8).

A regex ending in ``$`` also matches before a final newline, which once let
``"KEY\\n"`` be stored next to ``"KEY"``. Each check here is fed a good name
with a trailing newline, CRLF or blank (and a leading blank, and nothing) and
must refuse it; the API must refuse such names, never trim them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from secretvault import crypto, services
from secretvault.errors import DecryptionError, MasterKeyError
from secretvault.models import Secret
from secretvault.validators import validate_key, validate_scope, validate_scope_tag, validate_slug

SUFFIXES = ["\n", "\r\n", " ", "\t", "\r"]


def damaged(good: str) -> list[str]:
    """``good`` with a trailing line break or blank, a leading blank, and the blank name."""
    return [good + suffix for suffix in SUFFIXES] + [" " + good, "\n" + good, "", " "]


def refuses(check: Callable[[str], Any], name: str) -> bool:
    try:
        check(name)
    except (ValidationError, MasterKeyError, DecryptionError, ValueError):
        return True
    return False


VALIDATORS: dict[str, tuple[Callable[[str], Any], str]] = {
    "key": (validate_key, "API_KEY"),
    "slug": (validate_slug, "prd"),
    "scope tag": (validate_scope_tag, "web.api"),
    "scope list": (lambda tag: validate_scope([tag]), "web"),
    "master key id": (lambda key_id: crypto.parse_master_key(f"{key_id}:{'A' * 43}"), "key-1"),
    "sealed key id": (lambda key_id: crypto.read_key_id(crypto._header(key_id) + b"x" * 40), "key-1"),
}


@pytest.mark.parametrize("kind", sorted(VALIDATORS))
def test_each_name_check_accepts_the_name_and_refuses_it_damaged(kind: str) -> None:
    check, good = VALIDATORS[kind]
    assert not refuses(check, good)
    # A keyring is a comma-separated list whose entries may be padded ("a:..., b:..."),
    # so a master key id is damaged inside its entry: at its end, before the ':'.
    names = [good + suffix for suffix in SUFFIXES] if kind == "master key id" else damaged(good)
    for name in names:
        assert refuses(check, name), (kind, name)


def test_a_token_with_a_trailing_newline_is_not_a_token() -> None:
    new = crypto.generate_token("sv")
    assert crypto.parse_token(new.raw, "sv") == (new.token_id, new.raw.split("_")[2][:-6])
    for raw in damaged(new.raw):
        assert crypto.parse_token(raw, "sv") is None, repr(raw)


def test_the_services_refuse_a_key_and_a_slug_with_a_trailing_newline(workspace: Any) -> None:
    with pytest.raises(ValidationError):
        services.create_secret(workspace, key="NL_KEY\n", value="x")
    with pytest.raises(ValidationError):
        services.create_environment(workspace, slug="dev\n")
    with pytest.raises(ValidationError):
        services.create_workspace(slug="nl\n")
    assert not Secret.objects.exists()


# ---------------------------------------------------------------------------------
# The CLI


def test_cli_set_refuses_a_key_with_a_trailing_newline_and_export_still_works(workspace: Any) -> None:
    services.create_environment(workspace, slug="nl")
    with pytest.raises(CommandError, match="key"):
        call_command("secretvault", "set", "-w", "acme", "--env", "nl", "--", "NL_CLI\n", "x")
    call_command("secretvault", "set", "-w", "acme", "--env", "nl", "--", "NL_CLI", "x")
    out = io.StringIO()
    call_command("secretvault", "export", "-w", "acme", "--env", "nl", stdout=out)
    assert out.getvalue() == 'NL_CLI="x"\n'
