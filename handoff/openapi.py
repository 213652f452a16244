"""/api/openapi.json, generated from what each view declares with @endpoint (which also validates
its request with the models of handoff/schemas.py) and from Flask's route table.

Not spectree: it reads a body that is not JSON, or not sent as application/json, as {} (so no
400 invalid_json, and a wrong field reported as missing); our error codes need the raw body.
"""
from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable, Optional, Union

from flask import Flask, request
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.routing import IntegerConverter

from . import schemas
from .validation import read_body, read_parameters

CUSTOMER = [{"customerToken": []}]
# The stream: the customer token in the Authorization header, or (EventSource sends no headers)
# a stream ticket in the query string.
CUSTOMER_STREAM = [{"customerToken": []}, {"streamTicket": []}]
AGENT = [{"agentSession": [], "csrfToken": []}]
# The bearer METRICS_TOKEN; or nothing at all, from the loopback while no METRICS_TOKEN is set.
METRICS = [{"metricsToken": []}, {}]
PUBLIC: list = []
SECURITY_SCHEMES = {
    "customerToken": {"type": "http", "scheme": "bearer",
                      "description": "The token from POST /api/v1/conversations, in the Authorization header only: "
                                     "a request with ?token= in its URL is refused (400 token_in_url)."},
    "streamTicket": {"type": "apiKey", "in": "query", "name": "ticket",
                     "description": "From POST /api/v1/conversations/{id}/stream-ticket: opens that conversation's "
                                    "stream once, within STREAM_TICKET_SECONDS."},
    "metricsToken": {"type": "http", "scheme": "bearer",
                     "description": "METRICS_TOKEN; when it is not set, /metrics answers the loopback only."},
    "agentSession": {"type": "apiKey", "in": "cookie", "name": "tsunagi_session"},
    "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                  "description": "Required on every write; from the login answer."},
}
ERROR_STATUSES = {
    400: "Malformed JSON", 401: "Missing or invalid credentials", 403: "Not allowed (wrong token, role or CSRF)",
    404: "Not found", 409: "Conflicts with the conversation's state", 413: "Body larger than MAX_BODY_BYTES",
    415: "The body is not application/json",
    422: "A field is missing or invalid (e.g. message_too_long)", 429: "Rate limited; see Retry-After",
}
# A response is a model, None (no body) or the media type of a text body (a stream, metrics).
Answer = Union[type[BaseModel], None, str]


@dataclass(frozen=True)
class Endpoint:
    responses: dict[int, Answer]
    security: list
    body: Optional[type[BaseModel]] = None
    query: Optional[type[BaseModel]] = None
    headers: Optional[type[BaseModel]] = None
    errors: bool = True  # answers {"error": ...} with the ERROR_STATUSES

    @property
    def body_required(self) -> bool:
        return self.body is not None and any(f.is_required() for f in self.body.model_fields.values())


def endpoint(responses: dict[int, Answer], security: list, **declared) -> Callable:
    """Declares a view's request and answers; the view gets the validated body, query and headers
    as keyword arguments of those names. Its docstring is the operation's summary."""
    declaration = Endpoint(responses, security, **declared)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def validated(*args, **kwargs):
            if declaration.body is not None:
                kwargs["body"] = read_body(declaration.body, declaration.body_required)
            if declaration.query is not None:
                kwargs["query"] = read_parameters(declaration.query, request.args)
            if declaration.headers is not None:
                kwargs["headers"] = read_parameters(declaration.headers, request.headers)
            return view(*args, **kwargs)
        validated.endpoint = declaration
        return validated
    return decorate


class _Schemas(GenerateJsonSchema):
    def field_title_should_be_set(self, schema) -> bool:
        return False  # a property's title would only repeat its name


def openapi_document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every declared endpoint of this app, built once per app."""
    if "tsunagi_openapi" not in app.extensions:
        app.extensions["tsunagi_openapi"] = _with_settings(_document(app), app.config)
    return app.extensions["tsunagi_openapi"]


def _document(app: Flask) -> dict:
    routes = [(rule, app.view_functions[rule.endpoint].endpoint) for rule in app.url_map.iter_rules()
              if hasattr(app.view_functions[rule.endpoint], "endpoint")]
    models = {schemas.Error} | {m for _, e in routes for m in (e.body, *e.responses.values()) if isinstance(m, type)}
    refs, components = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                          ref_template="#/components/schemas/{model}", schema_generator=_Schemas)
    ref = {model: refs[model, "validation"] for model in models}
    paths: dict[str, dict] = {}
    for rule, declared in sorted(routes, key=lambda route: route[0].rule):
        path = re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule)  # <int:reply_id> -> {reply_id}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule, declared, ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tsunagi handoff service", "version": "1.0.0",
                 "description": "Chat gateway, live-agent queue and agent API. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a 4xx status."},
        "paths": paths,
        "components": {"schemas": components["$defs"], "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(app: Flask, rule, declared: Endpoint, ref: dict) -> dict:
    view = app.view_functions[rule.endpoint]
    operation: dict[str, Any] = {
        "summary": " ".join((inspect.getdoc(view) or rule.endpoint).split("\n\n")[0].split()),
        "operationId": rule.endpoint, "tags": [rule.endpoint.split(".")[0].removesuffix("_api")],
        "security": declared.security, "responses": {}}
    parameters = [{"name": name, "in": "path", "required": True, "schema": _path_schema(converter)}
                  for name, converter in rule._converters.items()]  # noqa: SLF001 (apispec reads it too)
    for where, model in (("query", declared.query), ("header", declared.headers)):
        if model is not None:
            properties = model.model_json_schema(schema_generator=_Schemas)["properties"]
            # An empty query parameter counts as absent (validation.read_parameters): said so for the
            # optional ones (a required one left empty is refused as missing).
            parameters += [{"name": field.alias or name, "in": where, "required": field.is_required(),
                            **({"allowEmptyValue": True} if where == "query" and not field.is_required() else {}),
                            **_absent_not_null(properties[field.alias or name])}
                           for name, field in model.model_fields.items()]
    if parameters:
        operation["parameters"] = parameters
    if declared.body is not None:
        operation["requestBody"] = {"required": declared.body_required,
                                    "content": {"application/json": {"schema": ref[declared.body]}}}
    for status, answer in declared.responses.items():
        response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if isinstance(answer, str):
            response["content"] = {answer: {"schema": {"type": "string"}}}
        elif answer is not None:
            response["content"] = {"application/json": {"schema": ref[answer]}}
        operation["responses"][str(status)] = response
    if declared.errors:
        for status, description in ERROR_STATUSES.items():
            operation["responses"].setdefault(str(status), {
                "description": description, "content": {"application/json": {"schema": ref[schemas.Error]}}})
    return operation


def _absent_not_null(schema: dict) -> dict:
    """A parameter is absent rather than null: Optional[X] = None documents as X."""
    schema = dict(schema)
    description = schema.pop("description", None)
    if schema.get("default", ...) is None:
        del schema["default"]
        schema = next(s for s in schema.pop("anyOf") if s != {"type": "null"}) | schema
    return {"schema": schema, **({"description": description} if description else {})}


def _path_schema(converter) -> dict:
    if isinstance(converter, IntegerConverter):
        return {"type": "integer", "minimum": converter.min or 0, "maximum": converter.max or schemas.INT32}
    return {"type": "string"}


def _with_settings(value: Any, config) -> Any:
    """A length limit that is a setting ("x-max-length": name) gets this app's value as maxLength."""
    if isinstance(value, dict):
        value = {k: _with_settings(v, config) for k, v in value.items()}
        if "x-max-length" in value:
            value["maxLength"] = config[value["x-max-length"]]
        return value
    if isinstance(value, list):
        return [_with_settings(v, config) for v in value]
    return value
