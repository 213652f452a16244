"""Property-based run of the whole JSON API against its own OpenAPI document (schemathesis):
no 500s, and every answer matches the documented status codes and schemas.

Requests carry real credentials (a customer token, an agent session with CSRF token) so the
generated data reaches the handlers, not just the 401 in front of them.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from handoff import create_app
from handoff.openapi import openapi_document
from handoff_support import AgentSession, Customer, add_agent
from conftest import base_config
from tests.support.project_copy import copy_content


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    """The editor API's FAQ files: a trimmed copy, since its writes are part of the run."""
    return copy_content(tmp_path_factory.mktemp("project"), examples_per_intent=3)


@pytest.fixture
def world(sqlite_url, rasa, tmp_path, content):
    rasa.reset()
    app = create_app({**base_config(sqlite_url, rasa.url, str(tmp_path)), "TSUNAGI_PROJECT_DIR": str(content),
                      "EMBEDDING_CACHE_DIR": str(content / "embeddings")})
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    admin = AgentSession(app, "boss@shop.example")
    client = app.test_client()
    customer = Customer(client)
    customer.send("/request_human")
    yield app, customer, admin
    app.extensions["tsunagi"].db.engine.dispose()


# The document is static, so it is loaded once here and each case is sent to a fresh app (the
# streams are left out: an endless response is not something a request/response check can read).
schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path_regex=r"/stream$")


def test_the_served_document_is_the_one_tested(client):
    assert client.get("/api/openapi.json").get_json() == openapi_document()


@schema.parametrize()
@settings(max_examples=int(os.environ.get("HANDOFF_FUZZ_EXAMPLES", "25")), deadline=None,
          suppress_health_check=list(HealthCheck), database=None)
def test_every_endpoint_keeps_to_its_openapi_document(case, world):
    app, customer, admin = world
    if "id" in (case.path_parameters or {}) and case.path_parameters["id"] and len(case.path_parameters["id"]) % 2:
        case.path_parameters["id"] = customer.id  # half the cases hit the real conversation
    headers = {"Authorization": f"Bearer {customer.token}", "X-CSRF-Token": admin.csrf,
               "Cookie": f"tsunagi_session={admin.client.get_cookie('tsunagi_session').value}"}
    if case.path == "/api/agent/logout":
        headers.pop("Cookie")  # logging out would end the session the other cases use
    declared = {p.name for p in case.operation.query}
    if set(case.query or {}) - declared:
        return  # unknown query parameters are ignored, as on most HTTP services: nothing to check
    case.operation.schema.app = app  # the checks' own probes (e.g. ignored_auth) go to this app too
    case.call_and_validate(app=app, headers=headers)
