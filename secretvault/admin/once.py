"""One submission per token form, one display per raw token (SPEC §8 "Admin"; issue #11.5).

Creating a token in the admin is POST → redirect → GET:

- Each rendering of the add form carries a fresh one-time *form ticket*
  (random, remembered in the session). A POST must spend a ticket the session
  holds; a reload or re-post of the same form finds it spent and creates nothing.
- The POST that creates the token keeps the raw token in the session, sealed
  with the active master key (AES-GCM, bound to the token and the user), and
  redirects to the token's "created" page. That page takes it out of the
  session on its first display; a reload shows "already shown".

So the raw token is never held in plaintext outside the request that made it
and the one that shows it, and neither page can be replayed into a second token.
Two POSTs racing with the same ticket (a double click within one round trip)
can both read it before either saves the session; the ticket is spent and the
session saved before the token is written, which keeps that window to the time
between two session reads.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from secretvault import crypto
from secretvault.errors import DecryptionError, MasterKeyError

TICKETS = "secretvault.token_form_tickets"
PENDING = "secretvault.tokens_to_show"
MAX_TICKETS = 20  # add forms open at once in one session; older tickets lapse


def issue_ticket(request: HttpRequest) -> str:
    """A new one-time ticket for one rendering of the token add form, remembered in the session."""
    ticket = secrets.token_urlsafe(24)
    tickets = [*request.session.get(TICKETS, []), ticket][-MAX_TICKETS:]
    request.session[TICKETS] = tickets
    return ticket


def spend_ticket(request: HttpRequest, ticket: str | None) -> bool:
    """Whether ``ticket`` was issued to this session and unspent; spends it (session saved now)."""
    tickets: list[str] = list(request.session.get(TICKETS, []))
    if not ticket or ticket not in tickets:
        return False
    tickets.remove(ticket)
    request.session[TICKETS] = tickets
    request.session.save()  # spent before anything is written, not at the end of the response
    return True


def _context(token_pk: Any, user_pk: Any) -> bytes:
    return f"secretvault/admin/token-shown-once/{token_pk}/{user_pk}".encode()


@sensitive_variables("raw")
def keep_for_display(request: HttpRequest, token_pk: Any, raw: str) -> None:
    """Keep ``raw`` in the session, sealed with the active master key, for one display."""
    key = crypto.get_keyring().active
    sealed = crypto.seal(key.cipher(), key.key_id, raw.encode(), _context(token_pk, request.user.pk))
    pending: dict[str, str] = dict(request.session.get(PENDING, {}))
    pending[str(token_pk)] = base64.b64encode(sealed).decode("ascii")
    request.session[PENDING] = pending


@sensitive_variables()
def take_for_display(request: HttpRequest, token_pk: Any) -> str | None:
    """The raw token kept for ``token_pk``, removed from the session; ``None`` if already taken.

    Also ``None`` when the sealed copy cannot be opened (another user, a master
    key since removed, a tampered session): the token is then simply not shown.
    """
    pending: dict[str, str] = dict(request.session.get(PENDING, {}))
    encoded = pending.pop(str(token_pk), None)
    if encoded is None:
        return None
    request.session[PENDING] = pending
    try:
        sealed = base64.b64decode(encoded, validate=True)
        keyring = crypto.get_keyring()
        plain = crypto.unseal(
            lambda key_id: keyring.get(key_id).cipher(), sealed, _context(token_pk, request.user.pk)
        )
    except (binascii.Error, ValueError, DecryptionError, MasterKeyError):
        return None
    return plain.decode()
