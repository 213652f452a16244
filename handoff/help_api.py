"""Help-center JSON API (/api/v1/help, public): search the articles, for the widget's empty state and
for shops that build their own help pages. The HTML pages are handoff/help_center.py.

| method and path | what |
|---|---|
| `GET /api/v1/help/search?q=&lang=&limit=&record=` | articles for a customer's words, best first, with highlighted snippets |

A search with no good result (`no_good_result`) is recorded for the editors' unanswered list, like a
bot fallback; a client that searches as the customer types sends `record=false` and lets only the
search the customer settles on be recorded. Limited per client IP (RATE_LIMIT_HELP_SEARCH_PER_IP).
"""
from __future__ import annotations

from flask import Blueprint, current_app, request

from . import schemas
from .help_center import help_path, published_articles
from .help_search import search
from .openapi import PUBLIC, endpoint
from .system_messages import LANGUAGES

bp = Blueprint("help_api", __name__, url_prefix="/api/v1/help")


def _language(asked) -> str:
    return asked or request.accept_languages.best_match(LANGUAGES) or current_app.config["DEFAULT_LANGUAGE"]


@bp.get("/search")
@endpoint({200: schemas.HelpSearchResult}, PUBLIC, query=schemas.HelpSearchQuery)
def help_search(query: schemas.HelpSearchQuery):
    """Search the help center's articles by meaning and keyword."""
    services = current_app.extensions["tsunagi"]
    services.limiter.check("help-search", request.remote_addr or "unknown",
                           current_app.config["RATE_LIMIT_HELP_SEARCH_PER_IP"])
    language = _language(query.lang)
    result = search(current_app._get_current_object(), query.q, language, query.limit, query.record)
    # As the help center's own search page: only published articles (the index follows the files as
    # edited; the pages follow `make publish`), each at its page in the asked language.
    articles = published_articles()
    body = result.as_json()
    body["hits"] = [dict(hit, url=help_path(language, hit["category"], hit["topic"]))
                    for hit in body["hits"] if articles.article(hit["topic"]) is not None]
    body["no_good_result"] = result.no_good_result or not body["hits"]
    return body
