"""The API's content negotiation answers as DRF's would, only faster for plain headers."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from secretvault.api.negotiation import VaultContentNegotiation
from tests.api.conftest import ws_url

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/*",
    "application/json; indent=4",
    "text/html, application/json;q=0.9",
    "text/html",
    "application/xml",
    "",
]


def choose(negotiation, accept: str | None, renderers, query: str = ""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/x/" + query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api"])
@pytest.mark.parametrize("renderers", [[JSONRenderer], [JSONRenderer, BrowsableAPIRenderer]])
def test_the_choice_is_drfs(accept, query, renderers):
    instances = [cls() for cls in renderers]
    try:
        expected = choose(DefaultContentNegotiation(), accept, instances, query)
    except Exception as exc:  # noqa: BLE001 - the same exception must come out of ours
        with pytest.raises(type(exc)):
            choose(VaultContentNegotiation(), accept, instances, query)
        return
    assert choose(VaultContentNegotiation(), accept, instances, query) == expected


@pytest.mark.django_db
def test_the_api_answers_json_and_refuses_what_it_cannot_render(workspace, token_client):
    _token, client = token_client()
    url = ws_url("acme", "load")
    assert client.get(url)["Content-Type"] == "application/json"
    assert client.get(url, HTTP_ACCEPT="application/json")["Content-Type"] == "application/json"
    assert client.get(url, HTTP_ACCEPT="text/html").status_code == 406
