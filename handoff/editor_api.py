"""Editor API (/api/editor, editor role): unanswered questions grouped by meaning, and the
changes an editor makes from them to the FAQ content files, ready for `make publish`.

| method and path | what |
|---|---|
| `GET /api/editor/unanswered?from=&to=&language=` | groups of unhandled unanswered questions, the topics and categories |
| `POST /api/editor/unanswered/add-examples` `{"topic", "examples": [text], "message_ids": [id]}` | examples appended to a topic in data/nlu; the messages handled |
| `POST /api/editor/unanswered/new-topic` `{"topic": {"id", "category", "title": {ja, en}, "answer": {ja, en}, "offer_human"?}, "examples", "message_ids"}` | a new topic: examples and answer in data/nlu, its id in domain.yml, its titles in data/topics; the messages handled |
| `POST /api/editor/unanswered/dismiss` `{"message_ids": [id]}` | the messages handled without a change |

Changes answer `{"change": {"files", "diff", "added", "skipped"}, "handled": n}`: the diff is what
`git diff` will show.
"""
from __future__ import annotations


from flask import Blueprint, current_app, g

from . import events, schemas
from .admin_api import _date_range
from .auth import agent_required
from .content_files import ContentError, ContentFiles, project_content
from .errors import ApiError
from .kpis import day_range
from .openapi import AGENT, endpoint
from .transcript import iso
from .help_search import service as help_search
from .unanswered import Embedder, collect, groups, mark_handled, mark_searches_handled

bp = Blueprint("editor_api", __name__, url_prefix="/api/editor")

@bp.record_once
def _setup(state) -> None:
    # One embedder per app: it holds the model and its cache of vectors.
    state.app.extensions["tsunagi_editor"] = Embedder(state.app.config.get("EMBEDDING_CACHE_DIR") or None)


def _embedder() -> Embedder:
    return current_app.extensions["tsunagi_editor"]


def _db():
    return current_app.extensions["tsunagi"].db


def _content_error(error: ContentError) -> ApiError:
    status = 409 if error.code in ("topic_exists", "write_failed", "content_unreadable") else 422
    return ApiError(error.code, error.message, status)


def _topics_json(content: ContentFiles) -> list[dict]:
    return [{"id": t.id, "category": t.category, "title": t.title, "examples": len(t.examples)}
            for t in content.topics()]


def _dates(value):
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return iso(value) if hasattr(value, "isoformat") else value


def _content_changed(session, kind: str, topic, change, handled: int) -> None:
    """For the audit log (listeners/audit_listener.py), in the transaction that marks the questions."""
    audit = {"questions_handled": handled}
    if change is not None:
        audit.update(files=list(change.files), examples_added=len(change.added))
    events.record(session, events.Event(events.CONTENT_CHANGED, agent_id=g.agent.id,
                                        data={"kind": kind, "topic": topic, "audit": audit}))


@bp.get("/unanswered")
@agent_required("editor")
@endpoint({200: schemas.UnansweredGroups}, AGENT, query=schemas.UnansweredQuery)
def unanswered_groups(query: schemas.UnansweredQuery):
    """Unhandled unanswered questions grouped by meaning, with the topics and categories (editor)."""
    first, last = _date_range(query)
    start, end = day_range(first, last, current_app.config["SUPPORT_TIMEZONE"])
    with _db().reading() as session:
        questions = collect(session, start, end, query.language)
    content = project_content()
    try:
        topics = content.topics()
        # The topics' examples come embedded from the help search's index, warmed in the background
        # when the service started or the content changed; never embedded in this request.
        index = help_search(current_app._get_current_object()).topic_index() if questions else None
        found = groups(questions, _embedder(), topics, current_app.config["UNANSWERED_SIMILARITY"],
                       index=index, warming=index is None)
        categories = content.categories()
    except ContentError as error:
        raise _content_error(error)
    return {"from": first.isoformat(), "to": last.isoformat(), "questions": len(questions),
            "groups": _dates(found), "topics": _topics_json(content), "categories": categories,
            "index_warming": bool(questions) and index is None}


@bp.post("/unanswered/add-examples")
@agent_required("editor")
@endpoint({200: schemas.ContentChange}, AGENT, body=schemas.NewExamples)
def add_examples(body: schemas.NewExamples):
    """Append examples to a topic in data/nlu; the questions they came from are handled (editor)."""
    try:
        change = project_content().add_examples(body.topic, body.examples)
    except ContentError as error:
        raise _content_error(error)
    with _db().writing() as session:
        handled = mark_handled(session, body.message_ids, "example_added", body.topic, g.agent.id)
        handled += mark_searches_handled(session, body.search_ids, "example_added", body.topic, g.agent.id)
        _content_changed(session, "example_added", body.topic, change, handled)
    return {"change": change.as_json(), "handled": handled}


@bp.post("/unanswered/new-topic")
@agent_required("editor")
@endpoint({201: schemas.ContentChange}, AGENT, body=schemas.NewTopic)
def new_topic(body: schemas.NewTopic):
    """Draft a new topic in data/nlu, domain.yml and data/topics (editor)."""
    topic = body.topic
    try:
        change = project_content().add_topic(topic.id, topic.category, topic.title.model_dump(), topic.answer.model_dump(),
                                      body.examples, offer_human=bool(topic.offer_human))
    except ContentError as error:
        raise _content_error(error)
    with _db().writing() as session:
        handled = mark_handled(session, body.message_ids, "topic_drafted", topic.id, g.agent.id)
        handled += mark_searches_handled(session, body.search_ids, "topic_drafted", topic.id, g.agent.id)
        _content_changed(session, "topic_drafted", topic.id, change, handled)
    return {"change": change.as_json(), "handled": handled}, 201


@bp.post("/unanswered/dismiss")
@agent_required("editor")
@endpoint({200: schemas.Handled}, AGENT, body=schemas.Dismissal)
def dismiss(body: schemas.Dismissal):
    """Mark questions handled without a change (editor)."""
    with _db().writing() as session:
        handled = mark_handled(session, body.message_ids, "dismissed", None, g.agent.id)
        handled += mark_searches_handled(session, body.search_ids, "dismissed", None, g.agent.id)
        _content_changed(session, "dismissed", None, None, handled)
    return {"handled": handled}
