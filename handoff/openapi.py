"""The OpenAPI 3 document of every JSON endpoint, served at /api/openapi.json.

It is the machine-readable contract behind docs/architecture.md's API table; the schemathesis
test in tests/handoff checks the service against it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

LANGUAGE = {"type": "string", "enum": ["ja", "en"]}
STATUS = {"type": "string", "enum": ["bot", "waiting", "assigned", "resolved", "offline"]}
REASON = {"type": "string", "enum": ["request_human", "repeated_fallback", "complaint", "not_helpful", "offline_message"]}
TIME = {"type": "string", "format": "date-time"}
# Texts may not hold NUL (PostgreSQL cannot store it); required ones need something besides white space.
NO_NUL = r"^[^\u0000]*$"
SOMETHING = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def nullable(schema: dict) -> dict:
    if "enum" in schema:  # OpenAPI 3.0: an enum admits null only if it lists it
        return dict(schema, nullable=True, enum=[*schema["enum"], None])
    return dict(schema, nullable=True)


def obj(properties: dict, required: tuple = (), **extra) -> dict:
    body = {"type": "object", "properties": properties, **extra}
    if required:
        body["required"] = list(required)
    return body


def body_obj(properties: dict, required: tuple = ()) -> dict:
    """A request body: optional fields may also be sent as null (read as absent)."""
    return obj({name: schema if name in required else nullable(schema) for name, schema in properties.items()},
               required)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": {"type": "string"}, "message": {"type": "string"}}, ("code", "message"))},
                 ("error",)),
    "Button": obj({"title": {"type": "string"}, "payload": {"type": "string"}}, ("title", "payload")),
    "Nlu": nullable(obj({
        "intent": nullable({"type": "string"}), "confidence": nullable({"type": "number"}),
        "intent_ranking": {"type": "array", "items": obj({"name": {"type": "string"},
                                                          "confidence": nullable({"type": "number"})})},
    })),
    "Message": obj({
        "id": {"type": "integer"}, "seq": {"type": "integer", "minimum": 1},
        "sender": {"type": "string", "enum": ["customer", "bot", "agent", "system"]},
        "text": {"type": "string"}, "language": {"type": "string"}, "created_at": TIME,
        "buttons": {"type": "array", "items": ref("Button")}, "agent_name": {"type": "string"},
        "display_text": {"type": "string", "description": "A quick-reply click's button title, shown instead of "
                                                          "the payload in text"},
        "nlu": ref("Nlu"),
    }, ("id", "seq", "sender", "text", "language", "created_at")),
    "Conversation": obj({
        "id": {"type": "string"}, "status": STATUS, "language": LANGUAGE,
        "queue": nullable(obj({"position": {"type": "integer", "minimum": 1},
                               "eta_seconds": {"type": "integer", "minimum": 0}}, ("position", "eta_seconds"))),
        "agent": nullable(obj({"name": {"type": "string"}}, ("name",))),
        "online": {"type": "boolean"},
    }, ("id", "status", "language", "queue", "agent", "online")),
    "NewConversation": obj({"id": {"type": "string"}, "token": {"type": "string"}, "status": STATUS,
                            "language": LANGUAGE}, ("id", "token", "status", "language")),
    "Exchange": obj({"message": ref("Message"), "replies": {"type": "array", "items": ref("Message")}},
                    ("message", "replies")),
    "Agent": obj({"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
                  "role": {"type": "string", "enum": ["agent", "editor", "admin"]},
                  "open_conversations": {"type": "integer"}, "max_concurrent": {"type": "integer"}},
                 ("id", "email", "name", "role")),
    "Session": obj({"agent": ref("Agent"), "csrf_token": nullable({"type": "string"})}, ("agent", "csrf_token")),
    "QueueItem": obj({
        "id": {"type": "string"}, "status": STATUS, "language": LANGUAGE, "reason": nullable(REASON),
        "priority": nullable({"type": "string", "enum": ["high", "normal"]}), "wait_seconds": {"type": "integer"},
        "queued_at": nullable(TIME), "first_question": nullable({"type": "string"}), "offline": {"type": "boolean"},
        "email": nullable({"type": "string"}),
    }, ("id", "language", "reason", "priority", "wait_seconds", "first_question", "offline", "email")),
    "ConversationSummary": obj({
        "id": {"type": "string"}, "status": STATUS, "language": LANGUAGE, "reason": nullable(REASON),
        "priority": nullable({"type": "string"}), "offline": {"type": "boolean"}, "email": nullable({"type": "string"}),
        "agent": nullable(obj({"id": {"type": "integer"}, "name": {"type": "string"}})),
        "created_at": TIME, "queued_at": nullable(TIME), "claimed_at": nullable(TIME), "updated_at": TIME,
        "first_question": nullable({"type": "string"}), "last_message_at": nullable(TIME),
    }, ("id", "status", "language", "agent", "first_question", "last_message_at")),
    "Note": obj({"id": {"type": "integer"}, "text": {"type": "string"}, "agent_name": {"type": "string"},
                 "created_at": TIME}, ("id", "text", "agent_name", "created_at")),
    "ConversationDetail": {"allOf": [ref("ConversationSummary"), obj({
        "handoff_turns": {"type": "array", "items": {"type": "object"}},
        "page_url": nullable({"type": "string"}),
        "rating": nullable(obj({"csat": nullable({"type": "integer"}), "ces": nullable({"type": "integer"}),
                                "comment": nullable({"type": "string"})})),
        "messages": {"type": "array", "items": ref("Message")},
        "notes": {"type": "array", "items": ref("Note")},
    }, ("messages", "notes", "handoff_turns"))]},
    "CannedReply": obj({"id": {"type": "integer"}, "language": LANGUAGE, "title": {"type": "string"},
                        "text": {"type": "string"}}, ("id", "language", "title", "text")),
    "Figures": obj({"p50": nullable({"type": "number"}), "p90": nullable({"type": "number"}),
                    "mean": nullable({"type": "number"}), "count": {"type": "integer"}}, ("count",)),
    "Kpis": obj({
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "timezone": {"type": "string"}, "conversations": {"type": "integer"},
        "containment_rate": nullable({"type": "number"}), "handoff_rate": nullable({"type": "number"}),
        "handoffs": {"type": "integer"},
        "handoff_reasons": {"type": "object", "additionalProperties": {"type": "integer"}},
        "fallback_rate": nullable({"type": "number"}),
        "top_topics": {"type": "array", "items": obj({"topic": {"type": "string"}, "count": {"type": "integer"}})},
        "queue_wait_seconds": ref("Figures"), "first_response_seconds": ref("Figures"), "handle_seconds": ref("Figures"),
        "csat": obj({"average": nullable({"type": "number"}), "count": {"type": "integer"},
                     "distribution": {"type": "object", "additionalProperties": {"type": "integer"}},
                     "satisfied_rate": nullable({"type": "number"})}),
        "effort": obj({"average": nullable({"type": "number"}), "count": {"type": "integer"},
                       "distribution": {"type": "object", "additionalProperties": {"type": "integer"}}}),
        "per_day": {"type": "array", "items": obj({
            "date": {"type": "string", "format": "date"}, "conversations": {"type": "integer"},
            "handoffs": {"type": "integer"}}, ("date", "conversations", "handoffs"))},
        "recent_ratings": {"type": "array", "maxItems": 20, "items": obj({
            "conversation_id": {"type": "string"}, "csat": nullable({"type": "integer"}),
            "ces": nullable({"type": "integer"}), "comment": nullable({"type": "string"}), "rated_at": TIME,
            "agent_name": nullable({"type": "string"})},
            ("conversation_id", "csat", "ces", "comment", "rated_at", "agent_name"))},
        "agents": {"type": "array", "items": obj({
            "agent_id": {"type": "integer"}, "name": {"type": "string"}, "claimed": {"type": "integer"},
            "resolved": {"type": "integer"}, "open": {"type": "integer"},
            "handle_seconds_mean": nullable({"type": "number"})})},
    }, ("conversations", "containment_rate", "handoff_rate", "handoff_reasons", "fallback_rate", "top_topics",
        "queue_wait_seconds", "first_response_seconds", "handle_seconds", "csat", "effort", "per_day",
        "recent_ratings", "agents")),
}

ERROR_STATUSES = {
    "400": "Malformed JSON", "401": "Missing or invalid credentials", "403": "Not allowed (wrong token, role or CSRF)",
    "404": "Not found", "409": "Conflicts with the conversation's state", "413": "Body larger than MAX_BODY_BYTES",
    "415": "The body is not application/json",
    "422": "A field is missing or invalid (e.g. message_too_long)", "429": "Rate limited; see Retry-After",
}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def op(summary: str, responses: dict, *, body: dict | None = None, body_required: bool = True,
       security: list | None = None, params: list | None = None, tag: str = "customer") -> dict:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {}}
    for status, schema in responses.items():
        description = {"200": "OK", "201": "Created", "204": "No content"}.get(status, "OK")
        operation["responses"][status] = {"description": description, **(_json(schema) if schema else {})}
    for status, description in ERROR_STATUSES.items():
        operation["responses"].setdefault(status, {"description": description, **_json(ref("Error"))})
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body)}
    if security is not None:
        operation["security"] = security
    if params:
        operation["parameters"] = params
    return operation


CUSTOMER = [{"customerToken": []}]
AGENT = [{"agentSession": [], "csrfToken": []}]
CONVERSATION_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
QUERY_LANGUAGE = {"name": "language", "in": "query", "required": False, "schema": LANGUAGE}
TEXT_BODY = body_obj({"text": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 2000}}, ("text",))
DATE_RANGE = [{"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
              {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}]
SSE = {"description": "Server-Sent Events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}


def _paths() -> dict:
    conv = "/api/v1/conversations/{id}"
    agent_conv = "/api/agent/conversations/{id}"
    cid = [CONVERSATION_ID]
    paths = {
        "/api/v1/conversations": {"post": op(
            "Start a conversation", {"201": ref("NewConversation")}, body_required=False,
            body=body_obj({"language": LANGUAGE, "page_url": {"type": "string", "maxLength": 2000, "pattern": NO_NUL}}), security=[])},
        conv: {"get": op("The conversation's status, queue place and agent", {"200": ref("Conversation")},
                         security=CUSTOMER, params=cid)},
        conv + "/messages": {
            "get": op("The transcript, for page reloads", {"200": obj({"messages": {"type": "array", "items": ref("Message")}},
                                                                      ("messages",))},
                      security=CUSTOMER, params=cid + [{"name": "after", "in": "query", "required": False,
                                                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}]),
            "post": op("Send a message; the bot's replies come back while the bot is in charge",
                       {"200": ref("Exchange"), "201": ref("Exchange")}, security=CUSTOMER, params=cid,
                       body=body_obj({"text": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 2000},
                                 "client_message_id": {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                                 "display_text": {"type": "string", "maxLength": 200, "pattern": NO_NUL,
                                                  "description": "the clicked button's title; text is its payload"}},
                                ("text",))),
        },
        conv + "/stream": {"get": {"summary": "Live events (message, status, queue, typing); resumes after Last-Event-ID",
                                   "tags": ["customer"], "security": CUSTOMER, "parameters": cid + [
                                       {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
                                       {"name": "last_event_id", "in": "query", "required": False, "schema": {"type": "integer"}},
                                       {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}],
                                   "responses": {"200": SSE, **{s: {"description": d, **_json(ref("Error"))}
                                                                for s, d in ERROR_STATUSES.items()}}}},
        conv + "/typing": {"post": op("The customer is typing", {"204": None}, security=CUSTOMER, params=cid,
                                      body=body_obj({"typing": {"type": "boolean"}}, ("typing",)))},
        conv + "/handoff": {"post": op("Ask for a person", {"200": ref("Conversation")}, security=CUSTOMER, params=cid,
                                       body=body_obj({"reason": REASON}), body_required=False)},
        conv + "/offline-message": {"post": op("Leave an e-mail address and a message for the team",
                                               {"201": ref("Conversation")}, security=CUSTOMER, params=cid,
                                               body=body_obj({"email": {"type": "string", "format": "email", "maxLength": 254},
                                                         "text": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 2000}},
                                                        ("email", "text")))},
        conv + "/end": {"post": op("End the conversation, optionally with a rating", {"200": ref("Conversation")},
                                   security=CUSTOMER, params=cid, body_required=False,
                                   body=body_obj({"csat": {"type": "integer", "minimum": 1, "maximum": 5},
                                             "ces": {"type": "integer", "minimum": 1, "maximum": 5},
                                             "comment": {"type": "string", "maxLength": 2000, "pattern": NO_NUL}}))},
        "/api/agent/login": {"get": op("The sign-in CSRF token (for clients without the /console page)",
                                       {"200": obj({"csrf_token": {"type": "string"}}, ("csrf_token",))},
                                       tag="agent", security=[]),
                             "post": op("Log in (X-CSRF-Token from the sign-in page or GET /api/agent/login; "
                                        "application/json only, else 415)", {"200": ref("Session")}, tag="agent",
                                        security=[{"csrfToken": []}],
                                        body=body_obj({"email": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 254},
                                                       "password": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 1000}},
                                                 ("email", "password")))},
        "/api/agent/logout": {"post": op("Log out", {"204": None}, tag="agent", security=AGENT)},
        "/api/agent/me": {"get": op("The logged-in agent", {"200": ref("Session")}, tag="agent", security=AGENT)},
        "/api/agent/queue": {"get": op("Waiting conversations and offline tickets, by priority then wait",
                                       {"200": obj({"queue": {"type": "array", "items": ref("QueueItem")}}, ("queue",))},
                                       tag="agent", security=AGENT, params=[QUERY_LANGUAGE])},
        "/api/agent/conversations": {"get": op(
            "Open (assigned) conversations; mine=1 for the agent's own",
            {"200": obj({"conversations": {"type": "array", "items": ref("ConversationSummary")}}, ("conversations",))},
            tag="agent", security=AGENT,
            params=[{"name": "mine", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}}])},
        agent_conv: {"get": op("A conversation with its transcript (NLU included) and notes",
                               {"200": ref("ConversationDetail")}, tag="agent", security=AGENT, params=cid)},
        agent_conv + "/claim": {"post": op("Claim (409 already_claimed when another agent won)",
                                           {"200": ref("ConversationDetail")}, tag="agent", security=AGENT, params=cid)},
        agent_conv + "/messages": {"post": op("Reply to the customer", {"201": obj({"message": ref("Message")}, ("message",))},
                                              tag="agent", security=AGENT, params=cid, body=TEXT_BODY)},
        agent_conv + "/notes": {"post": op("Internal note, never shown to the customer",
                                           {"201": obj({"note": ref("Note")}, ("note",))}, tag="agent", security=AGENT,
                                           params=cid, body=TEXT_BODY)},
        agent_conv + "/typing": {"post": op("The agent is typing", {"204": None}, tag="agent", security=AGENT, params=cid,
                                            body=body_obj({"typing": {"type": "boolean"}}, ("typing",)))},
        agent_conv + "/transfer": {"post": op("Transfer to another agent", {"200": ref("ConversationDetail")}, tag="agent",
                                              security=AGENT, params=cid,
                                              body=body_obj({"agent_id": {"type": "integer", "minimum": 1,
                                                                     "maximum": 2**31 - 1}}, ("agent_id",)))},
        agent_conv + "/handback": {"post": op("Hand back to the bot", {"200": ref("ConversationDetail")}, tag="agent",
                                              security=AGENT, params=cid)},
        agent_conv + "/resolve": {"post": op("Resolve", {"200": ref("ConversationDetail")}, tag="agent",
                                             security=AGENT, params=cid)},
        "/api/agent/agents": {"get": op("Agents, for transfer", {"200": obj({"agents": {"type": "array", "items": ref("Agent")}},
                                                                            ("agents",))}, tag="agent", security=AGENT)},
        "/api/agent/canned-replies": {"get": op(
            "Canned replies", {"200": obj({"canned_replies": {"type": "array", "items": ref("CannedReply")}},
                                          ("canned_replies",))}, tag="agent", security=AGENT, params=[QUERY_LANGUAGE])},
        "/api/agent/stream": {"get": {"summary": "Live queue changes and the agent's conversation events",
                                      "tags": ["agent"], "security": AGENT,
                                      "responses": {"200": SSE, "401": {"description": "Not logged in",
                                                                        **_json(ref("Error"))}}}},
        "/api/admin/kpis": {"get": op("The KPI dashboard's figures (admin)", {"200": ref("Kpis")}, tag="admin",
                                      security=AGENT, params=DATE_RANGE)},
        "/api/admin/unanswered": {"get": op(
            "Customer messages the bot did not understand (editor)",
            {"200": obj({"questions": {"type": "array", "items": obj({
                "conversation_id": {"type": "string"}, "text": {"type": "string"}, "language": {"type": "string"},
                "intent": nullable({"type": "string"}), "confidence": nullable({"type": "number"}),
                "intent_ranking": {"type": "array", "items": {"type": "object"}}, "created_at": TIME})},
                "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}},
                ("from", "to", "questions"))},
            tag="admin", security=AGENT, params=DATE_RANGE + [QUERY_LANGUAGE])},
    }
    canned_body = body_obj({"language": LANGUAGE, "title": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 200},
                       "text": {"type": "string", "minLength": 1, "pattern": SOMETHING, "maxLength": 2000}}, ("language", "title", "text"))
    reply_id = [{"name": "reply_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0,
                                                                               "maximum": 2**31 - 1}}]
    paths["/api/admin/canned-replies"] = {"post": op("Create a canned reply (admin)", {
        "201": obj({"canned_reply": ref("CannedReply")}, ("canned_reply",))}, tag="admin", security=AGENT, body=canned_body)}
    paths["/api/admin/canned-replies/{reply_id}"] = {
        "put": op("Change a canned reply (admin)", {"200": obj({"canned_reply": ref("CannedReply")}, ("canned_reply",))},
                  tag="admin", security=AGENT, body=canned_body, params=reply_id),
        "delete": op("Delete a canned reply (admin)", {"204": None}, tag="admin", security=AGENT, params=reply_id),
    }
    paths.update(_editor_paths())
    paths["/healthz"] = {"get": {"summary": "Liveness, with database, Redis and Rasa reachability", "tags": ["operations"],
                                 "security": [], "responses": {
                                     status: {"description": d, **_json(obj({"status": {"type": "string"},
                                                                             "checks": {"type": "object"}},
                                                                            ("status", "checks")))}
                                     for status, d in (("200", "Healthy"), ("503", "Database or Redis unreachable"))}}}
    paths["/metrics"] = {"get": {"summary": "Prometheus text format", "tags": ["operations"], "security": [],
                                 "responses": {"200": {"description": "Metrics",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    return paths


def _editor_paths() -> dict:
    """/api/editor (editor role): unanswered questions grouped by meaning, and the changes to the
    FAQ content files made from them (handoff/editor_api.py)."""
    text_list = {"type": "array", "maxItems": 200, "items": {"type": "string", "maxLength": 2000, "pattern": NO_NUL}}
    ids = {"type": "array", "maxItems": 500, "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
    bilingual = obj({"ja": {"type": "string", "maxLength": 2000, "pattern": NO_NUL},
                     "en": {"type": "string", "maxLength": 2000, "pattern": NO_NUL}}, ("ja", "en"))
    change = obj({"change": obj({"files": {"type": "array", "items": {"type": "string"}}, "diff": {"type": "string"},
                                 "added": {"type": "array", "items": {"type": "string"}},
                                 "skipped": {"type": "array", "items": {"type": "object"}}},
                                ("files", "diff", "added", "skipped")),
                  "handled": {"type": "integer", "minimum": 0}}, ("change", "handled"))
    question = obj({"message_id": {"type": "integer"}, "conversation_id": {"type": "string"},
                    "text": {"type": "string"}, "language": {"type": "string"}, "created_at": TIME,
                    "reasons": {"type": "array", "items": {"type": "string"}}, "topic": nullable({"type": "string"})},
                   ("message_id", "conversation_id", "text", "language", "created_at", "reasons"))
    group = obj({
        "id": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
        "languages": {"type": "object", "additionalProperties": {"type": "integer"}},
        "reasons": {"type": "object", "additionalProperties": {"type": "integer"}},
        "first_asked_at": TIME, "last_asked_at": TIME, "examples": {"type": "array", "items": question},
        "message_ids": {"type": "array", "items": {"type": "integer"}},
        "texts": {"type": "array", "items": {"type": "string"}},
        "nearest_topic": nullable(obj({"id": {"type": "string"}, "title": {"type": "object"},
                                       "similarity": {"type": "number"}}, ("id", "title", "similarity"))),
    }, ("id", "count", "languages", "reasons", "examples", "message_ids", "texts", "nearest_topic"))
    return {
        "/api/editor/unanswered": {"get": op(
            "Unhandled unanswered questions grouped by meaning, with the topics and categories (editor)",
            {"200": obj({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                         "questions": {"type": "integer"}, "groups": {"type": "array", "items": group},
                         "topics": {"type": "array", "items": obj({
                             "id": {"type": "string"}, "category": {"type": "string"}, "title": {"type": "object"},
                             "examples": {"type": "integer"}}, ("id", "category", "title", "examples"))},
                         "categories": {"type": "array", "items": {"type": "string"}}},
                        ("from", "to", "questions", "groups", "topics", "categories"))},
            tag="editor", security=AGENT, params=DATE_RANGE + [QUERY_LANGUAGE])},
        "/api/editor/unanswered/add-examples": {"post": op(
            "Append examples to a topic in data/nlu; the questions they came from are handled (editor)",
            {"200": change}, tag="editor", security=AGENT,
            body=body_obj({"topic": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": SOMETHING},
                           "examples": text_list, "message_ids": ids}, ("topic", "examples")))},
        "/api/editor/unanswered/new-topic": {"post": op(
            "Draft a new topic in data/nlu, domain and data/topics (editor)", {"201": change}, tag="editor",
            security=AGENT, body=body_obj({
                "topic": obj({"id": {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                              "category": {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                              "title": bilingual, "answer": bilingual, "offer_human": {"type": "boolean"}},
                             ("id", "category", "title", "answer")),
                "examples": text_list, "message_ids": ids}, ("topic", "examples")))},
        "/api/editor/unanswered/dismiss": {"post": op(
            "Mark questions handled without a change (editor)",
            {"200": obj({"handled": {"type": "integer", "minimum": 0}}, ("handled",))}, tag="editor",
            security=AGENT, body=body_obj({"message_ids": ids}, ("message_ids",)))},
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Tsunagi handoff service", "version": "1.0.0",
                 "description": "Chat gateway, live-agent queue and agent API. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a 4xx status."},
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "customerToken": {"type": "http", "scheme": "bearer",
                                  "description": "The token from POST /api/v1/conversations (or ?token= on the stream)."},
                "agentSession": {"type": "apiKey", "in": "cookie", "name": "tsunagi_session"},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                              "description": "Required on every write; from the login answer."},
            },
        },
    }
