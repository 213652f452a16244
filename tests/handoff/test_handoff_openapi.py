"""Property-based run of the whole JSON API against the OpenAPI document it serves (schemathesis),
on SQLite and PostgreSQL: no 500s, and every answer matches the documented status codes and schemas.

Requests carry real credentials (a customer token, an agent session with CSRF token) so the
generated data reaches the handlers, not just the 401 in front of them.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import schemathesis
from hypothesis import settings

from handoff import create_app
from handoff_support import AgentSession, Customer, add_agent
from conftest import base_config, empty_postgres
from tests.support.project_copy import copy_content


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    """The editor API's FAQ files: a trimmed copy, since its writes are part of the run."""
    return copy_content(tmp_path_factory.mktemp("project"), examples_per_intent=3)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, rasa, content, sqlite_template, tmp_path_factory):
    """One app per database for the whole run (Hypothesis's examples share it, as its health
    check for function-scoped fixtures asks), with a waiting customer and a logged-in admin."""
    instance = tmp_path_factory.mktemp("instance")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, instance / "handoff.sqlite3")
        url = f"sqlite:///{instance / 'handoff.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
    rasa.reset()
    app = create_app({**base_config(url, rasa.url, str(instance)), "TSUNAGI_PROJECT_DIR": str(content),
                      "EMBEDDING_CACHE_DIR": str(content / "embeddings")})
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    admin = AgentSession(app, "boss@shop.example")
    customer = Customer(app.test_client())
    customer.send("/request_human")
    yield app, customer, admin
    app.extensions["tsunagi"].db.engine.dispose()


def _document() -> dict:
    """The document as an app with the default settings serves it; no database is opened."""
    app = create_app(base_config(f"sqlite:///{tempfile.gettempdir()}/tsunagi-openapi-unused.sqlite3",
                                 "http://127.0.0.1:9", tempfile.gettempdir()))
    return app.test_client().get("/api/openapi.json").get_json()


# The streams are left out: an endless response is not something a request/response check can read.
schema = schemathesis.openapi.from_dict(_document()).exclude(path_regex=r"/stream$")


def test_the_served_document_is_the_one_tested(world):
    assert world[0].test_client().get("/api/openapi.json").get_json() == schema.raw_schema


@schema.parametrize()
@settings(max_examples=int(os.environ.get("HANDOFF_FUZZ_EXAMPLES", "25")), deadline=None, database=None)
def test_every_endpoint_keeps_to_its_openapi_document(case, world):
    app, customer, admin = world
    conversation_id = (case.path_parameters or {}).get("conversation_id")
    if conversation_id and len(conversation_id) % 2:
        case.path_parameters["conversation_id"] = customer.id  # half the cases hit the real conversation
    headers = {"Authorization": f"Bearer {customer.token}", "X-CSRF-Token": admin.csrf,
               "Cookie": f"tsunagi_session={admin.client.get_cookie('tsunagi_session').value}"}
    if case.path == "/api/agent/logout":
        headers.pop("Cookie")  # logging out would end the session the other cases use
    if (case.path_parameters or {}).get("agent_id") == admin.agent["id"]:
        # Resetting the admin's own password would end the session the other cases use.
        case.path_parameters["agent_id"] = admin.agent["id"] + 1
    declared = {p.name for p in case.operation.query}
    if set(case.query or {}) - declared:
        return  # unknown query parameters are ignored, as on most HTTP services: nothing to check
    case.operation.schema.app = app  # the checks' own probes (e.g. ignored_auth) go to this app too
    case.call_and_validate(app=app, headers=headers)


def test_every_api_route_is_declared(app):
    undeclared = [rule.rule for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/api/") and rule.rule != "/api/openapi.json"
                  and not hasattr(app.view_functions[rule.endpoint], "endpoint")]
    assert undeclared == []


def test_the_message_limit_in_the_document_is_the_configured_one(make_app):
    app = make_app(MAX_MESSAGE_CHARS=50)
    client = app.test_client()
    document = client.get("/api/openapi.json").get_json()
    text = document["components"]["schemas"]["CustomerMessage"]["properties"]["text"]
    assert text["maxLength"] == 50
    customer = Customer(client)
    customer.post("/handoff", {})
    assert customer.send("x" * 50).status_code == 201
    refused = customer.send("x" * 51)
    assert refused.status_code == 422 and refused.get_json() == {
        "error": {"code": "message_too_long", "message": "'text' is longer than 50 characters."}}
