"""Documented signals, sent after the transaction that caused them commits.

``secret_changed(sender=Secret, secret, action, version, actor)``
    A secret was created, got a new value, was rolled back, revoked,
    restored or deleted. ``action`` is the audit action (``secret.update`` …).

``token_revoked(sender=ServiceToken, token, actor)``
    A service token was revoked.

No signal carries a secret value.
"""

from django.dispatch import Signal

secret_changed = Signal()
token_revoked = Signal()
