"""Query parameters that name something: never empty, and lists of bounded length.

An empty ``?env=`` used to mean "no environment": ``DELETE …/secrets/K/?env=`` from a
client that built the URL out of an unset variable deleted the global secret (issue
#16.4). A parameter that names an environment, a scope tag, a key, an actor or an
action is now either a name or absent; empty (or blank) is a 400 on every route,
before the view runs. The API's views call ``check_query_names`` from
``VaultAPIView.initial``.
"""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import exceptions

from secretvault.validators import MAX_LIST_ITEMS

#: Query parameters whose values are names (a slug, a scope tag, a key, a principal).
NAMING_PARAMETERS: tuple[str, ...] = ("env", "scope", "key", "actor", "action")
#: Of those, the ones that take a comma-separated list.
LIST_PARAMETERS: frozenset[str] = frozenset({"scope"})
# MAX_LIST_ITEMS: most names one list-valued parameter may carry (every repetition and
# comma counted), the bound of every list-valued input (secretvault.validators).


def check_query_names(query_params: QueryDict) -> None:
    """Raise a DRF ``ValidationError`` (400, one message per parameter) for empty names.

    ``query_params`` is a ``QueryDict`` (``request.query_params``). Refused: an empty or
    blank value of a ``NAMING_PARAMETERS`` entry, an empty item of a list parameter
    (``scope=web,``), and more than ``MAX_LIST_ITEMS`` items in one list parameter.
    Whether a non-empty name is valid or known is the view's business.
    """
    errors: dict[str, list[str]] = {}
    for name in NAMING_PARAMETERS:
        values = query_params.getlist(name)
        if not values:
            continue
        if any(not value.strip() for value in values):
            errors[name] = [f"'{name}' is empty: name one, or leave the parameter out."]
            continue
        if name in LIST_PARAMETERS:
            items = [item for value in values for item in value.split(",")]
            if any(not item.strip() for item in items):
                errors[name] = [f"'{name}' holds an empty item: remove the stray comma."]
            elif len(items) > MAX_LIST_ITEMS:
                errors[name] = [f"'{name}' names more than {MAX_LIST_ITEMS} items."]
    if errors:
        raise exceptions.ValidationError(errors)
