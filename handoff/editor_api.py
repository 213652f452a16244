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

from pathlib import Path

from flask import Blueprint, current_app, g

from . import validation
from .admin_api import _date_range
from .auth import agent_required
from .content_files import ContentError, ContentFiles
from .errors import ApiError, InvalidInput
from .kpis import day_range
from .system_messages import LANGUAGES
from .transcript import iso
from .unanswered import Embedder, collect, groups, mark_handled

bp = Blueprint("editor_api", __name__, url_prefix="/api/editor")

MAX_IDS = 500
MAX_EXAMPLES = 200
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@bp.record_once
def _setup(state) -> None:
    # One embedder per app: it holds the model and its cache of vectors.
    state.app.extensions["tsunagi_editor"] = Embedder(state.app.config.get("EMBEDDING_CACHE_DIR") or None)


def _embedder() -> Embedder:
    return current_app.extensions["tsunagi_editor"]


def _content() -> ContentFiles:
    return ContentFiles(current_app.config.get("TSUNAGI_PROJECT_DIR") or PROJECT_ROOT)


def _db():
    return current_app.extensions["tsunagi"].db


def _message_ids(body: dict) -> list[int]:
    ids = body.get("message_ids", [])
    if not isinstance(ids, list) or len(ids) > MAX_IDS or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise InvalidInput("invalid_field", f"'message_ids' must be a list of at most {MAX_IDS} message ids.")
    return ids


def _texts(body: dict, name: str = "examples") -> list[str]:
    texts = body.get(name, [])
    if not isinstance(texts, list) or len(texts) > MAX_EXAMPLES or not all(isinstance(t, str) for t in texts):
        raise InvalidInput("invalid_field", f"'{name}' must be a list of at most {MAX_EXAMPLES} texts.")
    return texts


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


@bp.get("/unanswered")
@agent_required("editor")
def unanswered_groups():
    """Unhandled unanswered questions of the date range, grouped by meaning."""
    first, last = _date_range()
    language = validation.query_choice("language", LANGUAGES)
    start, end = day_range(first, last, current_app.config["SUPPORT_TIMEZONE"])
    with _db().reading() as session:
        questions = collect(session, start, end, language)
    content = _content()
    try:
        topics = content.topics()
        found = groups(questions, _embedder(), topics, current_app.config["UNANSWERED_SIMILARITY"])
        categories = content.categories()
    except ContentError as error:
        raise _content_error(error)
    return {"from": first.isoformat(), "to": last.isoformat(), "questions": len(questions),
            "groups": _dates(found), "topics": _topics_json(content), "categories": categories}


@bp.post("/unanswered/add-examples")
@agent_required("editor")
def add_examples():
    body = validation.json_body()
    topic = validation.text(body, "topic", max_chars=200)
    texts, ids = _texts(body), _message_ids(body)
    if not texts:
        raise InvalidInput("missing_field", "'examples' must list at least one text.")
    try:
        change = _content().add_examples(topic, texts)
    except ContentError as error:
        raise _content_error(error)
    with _db().writing() as session:
        handled = mark_handled(session, ids, "example_added", topic, g.agent.id)
    return {"change": change.as_json(), "handled": handled}


@bp.post("/unanswered/new-topic")
@agent_required("editor")
def new_topic():
    body = validation.json_body()
    topic = body.get("topic")
    if not isinstance(topic, dict):
        raise InvalidInput("missing_field", "'topic' must be an object with id, category, title and answer.")
    title, answer = topic.get("title"), topic.get("answer")
    if not isinstance(title, dict) or not isinstance(answer, dict):
        raise InvalidInput("missing_field", "'topic.title' and 'topic.answer' must be objects with 'ja' and 'en'.")
    texts, ids = _texts(body), _message_ids(body)
    try:
        change = _content().add_topic(topic.get("id"), str(topic.get("category") or ""), title, answer, texts,
                                      offer_human=bool(topic.get("offer_human")))
    except ContentError as error:
        raise _content_error(error)
    with _db().writing() as session:
        handled = mark_handled(session, ids, "topic_drafted", topic["id"], g.agent.id)
    return {"change": change.as_json(), "handled": handled}, 201


@bp.post("/unanswered/dismiss")
@agent_required("editor")
def dismiss():
    ids = _message_ids(validation.json_body())
    with _db().writing() as session:
        handled = mark_handled(session, ids, "dismissed", None, g.agent.id)
    return {"handled": handled}
