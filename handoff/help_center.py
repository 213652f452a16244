"""The public help center: the FAQ as server-rendered pages, in Japanese at /help and in English at
/en/help (`?lang=` too; with no explicit choice the browser's Accept-Language decides), from the
same content the bot answers with (handoff/help_articles.py).

    /help                          categories and the most-read articles
    /help/<category>               a category's articles
    /help/<category>/<topic>       an article: the answer, the optional longer body, related articles,
                                   "Was this article helpful?" and a way to the chat
    /help/search?q=                search results (handoff/help_search.py)
    /help/sitemap.xml, /robots.txt for search engines

Pages work without JavaScript; the only script is the chat widget. The help center serves the
PUBLISHED content: the article set is taken when the service starts and again whenever
models/live.json changes (`make publish`, `make rollback`), not on every edit of a content file, so
customers never read an answer the bot does not give yet (docs/editors-guide.md).

What is recorded has no personal data: article views and visits as counts per day (support time
zone) and language, and helpfulness votes (article, yes/no, an optional comment).
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Optional
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import (Blueprint, Response, current_app, redirect, render_template, request, url_for)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from languages import LANGUAGES
from .database import utcnow
from .errors import RateLimited
from .content_files import ContentError
from .help_articles import ArticleSet, content_of, load_articles
from .masking import mask_card_numbers
from .models import HelpArticleView, HelpVisit, HelpVote
from .schemas import HELP_QUERY_CHARS

bp = Blueprint("help_center", __name__)

VISIT_COOKIE = "tsunagi_help_visit"
VISIT_IDLE_SECONDS = 30 * 60  # a visit ends after 30 minutes without a help page, as web analytics count it
MOST_READ_DAYS = 30
MOST_READ_COUNT = 5
# Crawlers read every page; counted, they would drown what customers read.
_CRAWLER = re.compile(r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit", re.IGNORECASE)


def services():
    return current_app.extensions["tsunagi"]


# The published articles.

def _live_record(app) -> Path:
    """models/live.json of the content being served (bot/publish.py writes it on publish and rollback)."""
    models = os.environ.get("TSUNAGI_MODELS_DIR") or str(content_of(app).project / "models")
    return Path(models) / "live.json"


def _live_key(app) -> Optional[tuple]:
    try:
        stat = _live_record(app).stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def published_articles(app=None) -> ArticleSet:
    """The articles as they were when the live model was published: read at the first request
    and again when models/live.json changes; edits in between wait for `make publish`."""
    app = app or current_app._get_current_object()
    state = app.extensions.setdefault("tsunagi_help_published", {"key": None, "set": None, "lock": threading.Lock()})
    key = _live_key(app)
    if state["set"] is not None and state["key"] == key:
        return state["set"]
    with state["lock"]:
        if state["set"] is None or state["key"] != key:
            try:
                state["set"] = load_articles(app)
            except ContentError:
                if state["set"] is None:
                    raise
                # published with a file broken since (make publish validates first): keep serving
                app.logger.exception("help-center content unreadable; the previous articles stay")
            state["key"] = key
        return state["set"]


def article_path(app, topic: str) -> Optional[str]:
    """The path of a published topic's article (/help/<category>/<topic>), or None: the gateway
    puts it on the bot's answer about that topic."""
    try:
        article = published_articles(app).article(topic)
    except Exception:  # a content file an editor broke: the answer goes out without its link
        app.logger.warning("help-center articles unreadable; no article link for %s", topic, exc_info=True)
        return None
    return article.url if article is not None else None


# Language and addresses.

def _prefix(language: str) -> str:
    return "/en" if language == "en" else ""


def _language() -> tuple[str, bool]:
    """(language, explicit): /en/ or ?lang= choose; otherwise the browser's Accept-Language, then Japanese."""
    if request.path.startswith("/en/"):
        return "en", True
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    return request.accept_languages.best_match(LANGUAGES) or "ja", False


def help_path(language: str, *parts: str) -> str:
    """/help/<parts> in Japanese, /en/help/<parts> in English."""
    return _prefix(language) + "/".join(["/help", *parts]).rstrip("/")


def _absolute(path: str) -> str:
    return request.host_url.rstrip("/") + path


@lru_cache(maxsize=1)
def _strings() -> dict:
    with open(os.path.join(os.path.dirname(__file__), "templates", "help", "strings.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _render(template: str, language: str, explicit: bool, parts: tuple[str, ...], status: int = 200, **context):
    """A help page with its alternates (hreflang), canonical address and visit counting."""
    t = _strings()[language]
    other = "en" if language == "ja" else "ja"
    alternates = {lang: _absolute(help_path(lang, *parts)) for lang in LANGUAGES}
    # The same page in the other language (a search keeps its words); ?lang=ja overrides an
    # English browser's Accept-Language on the unprefixed Japanese address.
    switch_query = {k: v for k, v in (("lang", "ja" if other == "ja" else None), ("q", request.args.get("q"))) if v}
    switch = help_path(other, *parts) + ("?" + urlencode(switch_query) if switch_query else "")
    html = render_template(template, lang=language, t=t, alternates=alternates, canonical=alternates[language],
                           switch_url=switch, switch_label=_strings()[other]["language_name"], other_lang=other,
                           home_url=help_path(language), search_url=help_path(language, "search"),
                           chat_open=request.args.get("chat") == "open", **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Language"] = language
    if not explicit:
        response.vary.add("Accept-Language")
    if status < 400:
        _count_visit(response, language)
    return response


def _not_found(language: str, explicit: bool, what: str):
    """404: an HTML page for browsers, the service's JSON error for everyone else."""
    message = f"There is no help-center {what} here."
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best != "text/html":
        return {"error": {"code": "not_found", "message": message}}, 404
    return _render("help/error.html", language, explicit, (), 404, heading=_strings()[language]["not_found"],
                   detail=_strings()[language]["not_found_detail"])


# Recording.

def _today():
    return utcnow().astimezone(ZoneInfo(current_app.config["SUPPORT_TIMEZONE"])).date()


def _counted() -> bool:
    return request.method == "GET" and not _CRAWLER.search(request.headers.get("User-Agent", ""))


def _add_one(session, table, keys: dict, column: str) -> None:
    """count + 1 for the row of `keys`, created at 1: one statement, safe when requests race."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**keys, **{column: 1})
    session.execute(statement.on_conflict_do_update(index_elements=list(keys),
                                                    set_={column: getattr(table.c, column) + 1}))


def _count_visit(response: Response, language: str) -> None:
    """A browser without the visit cookie starts a visit; each page keeps it open 30 more minutes.
    The cookie holds no identifier ("1"), so nothing links one visit to another."""
    if not _counted():
        return
    if request.cookies.get(VISIT_COOKIE) != "1":
        with services().db.writing() as session:
            _add_one(session, HelpVisit.__table__, {"day": _today(), "language": language}, "visits")
    response.set_cookie(VISIT_COOKIE, "1", max_age=VISIT_IDLE_SECONDS, httponly=True, samesite="Lax",
                        secure=request.is_secure)


def _count_view(topic: str, language: str) -> None:
    if _counted():
        with services().db.writing() as session:
            _add_one(session, HelpArticleView.__table__, {"day": _today(), "topic": topic, "language": language}, "views")


def most_read(articles: ArticleSet, limit: int = MOST_READ_COUNT) -> list:
    """The articles read most in the last MOST_READ_DAYS days (both languages), most first."""
    since = _today() - timedelta(days=MOST_READ_DAYS - 1)
    with services().db.reading() as session:
        rows = session.execute(select(HelpArticleView.topic, func.sum(HelpArticleView.views).label("views"))
                               .where(HelpArticleView.day >= since).group_by(HelpArticleView.topic)
                               .order_by(func.sum(HelpArticleView.views).desc(), HelpArticleView.topic)
                               .limit(limit * 3)).all()
    found = [articles.article(r.topic) for r in rows]
    return [a for a in found if a is not None][:limit]


# The feedback form: a public form, so its protection against cross-site posting is a token signed
# with SECRET_KEY for this article and a limited time (no session needed), a same-origin check of
# Origin / Sec-Fetch-Site when the browser sends them, and a rate limit per client IP.

def _signer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"help-{purpose}")


def form_token(topic: str) -> str:
    return _signer("feedback").dumps(topic)


def _form_token_valid(token: str, topic: str) -> bool:
    try:
        return _signer("feedback").loads(token, max_age=current_app.config["HELP_FORM_MAX_AGE_SECONDS"]) == topic
    except BadSignature:  # SignatureExpired is one
        return False


def _vote_of(token: Optional[str], topic: str) -> Optional[int]:
    """The vote a "tell us more" token stands for (it is handed out with the thanks)."""
    if not token:
        return None
    try:
        vote_id, vote_topic = _signer("vote").loads(token, max_age=current_app.config["HELP_FORM_MAX_AGE_SECONDS"])
    except (BadSignature, TypeError, ValueError):
        return None
    return vote_id if vote_topic == topic and isinstance(vote_id, int) else None


def _same_origin() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        ours = urlsplit(request.host_url)
        theirs = urlsplit(origin)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)
    return origin != "null"


# Pages.

def _article_lookup(articles: ArticleSet, category: str, topic: str):
    article = articles.article(topic)
    return article if article is not None and article.category == category else None


def _faq_json_ld(articles_shown: list, language: str) -> dict:
    """schema.org FAQPage: each article a Question with its accepted Answer (the bot's answer)."""
    return {
        "@context": "https://schema.org", "@type": "FAQPage", "inLanguage": language,
        "mainEntity": [{"@type": "Question", "name": a.title[language],
                        "acceptedAnswer": {"@type": "Answer", "text": a.answer[language]}}
                       for a in articles_shown if a.answer.get(language)],
    }


def _breadcrumbs(crumbs: list[tuple[str, str]]) -> dict:
    return {"@context": "https://schema.org", "@type": "BreadcrumbList",
            "itemListElement": [{"@type": "ListItem", "position": n, "name": name, "item": _absolute(path)}
                                for n, (name, path) in enumerate(crumbs, start=1)]}


def _crumbs(language: str, category=None, article=None) -> list[tuple[str, str]]:
    crumbs = [(_strings()[language]["help_center"], help_path(language))]
    if category is not None:
        crumbs.append((category.name(language), help_path(language, category.id)))
    if article is not None:
        crumbs.append((article.title[language], help_path(language, article.category, article.topic)))
    return crumbs


@bp.get("/help")
@bp.get("/en/help")
def home():
    language, explicit = _language()
    articles = published_articles()
    categories = [(c, [articles.article(t) for t in c.articles if articles.article(t)]) for c in articles.categories(language)]
    return _render("help/home.html", language, explicit, (), categories=categories,
                   most_read=most_read(articles), crumbs=_crumbs(language), breadcrumbs_ld=None,
                   help_path=help_path)


@bp.get("/help/<category>")
@bp.get("/en/help/<category>")
def category_page(category: str):
    language, explicit = _language()
    articles = published_articles()
    found = articles.category(category)
    if found is None:
        return _not_found(language, explicit, "category")
    listed = [articles.article(t) for t in found.articles if articles.article(t)]
    crumbs = _crumbs(language, found)
    return _render("help/category.html", language, explicit, (category,), category=found, articles=listed,
                   crumbs=crumbs, breadcrumbs_ld=_breadcrumbs(crumbs), faq_ld=_faq_json_ld(listed, language),
                   help_path=help_path)


def _related(topic: str, language: str, articles: ArticleSet) -> list:
    """The nearest articles in meaning (handoff/help_search.related), only those that are published.

    Kept per topic for as long as the search index is the same one (content version, and whether
    its embeddings are ready): an article page asks for the same three on every view, and until
    help_search kept the topics' centres a call took 0.6-0.8 s on this machine."""
    from . import help_search

    app = current_app._get_current_object()
    try:
        cache = app.extensions.setdefault("tsunagi_help_related",
                                          {"index": None, "ready": None, "topics": {}, "checked": 0.0})
        # Which index serves is asked at most once a second (it checks every content file's
        # modification time): a new one is noticed that much later.
        if time.monotonic() - cache["checked"] >= 1.0:
            index = help_search.service(app).index()
            ready = index.vectors is not None
            if cache["index"] is not index or cache["ready"] != ready:
                cache.update(index=index, ready=ready, topics={})
            cache["checked"] = time.monotonic()
        nearest = cache["topics"].get(topic)
        if nearest is None:
            nearest = [hit.topic for hit in help_search.related(app, topic, language, k=3)]
            cache["topics"][topic] = nearest
    except Exception:  # the search index failed to build: the page shows without them
        current_app.logger.warning("related articles of %s unavailable", topic, exc_info=True)
        return []
    found = [articles.article(other) for other in nearest if other != topic]
    return [article for article in found if article is not None]


@bp.get("/help/<category>/<topic>")
@bp.get("/en/help/<category>/<topic>")
def article_page(category: str, topic: str):
    language, explicit = _language()
    articles = published_articles()
    article = _article_lookup(articles, category, topic)
    if article is None:
        moved = articles.article(topic)
        if moved is not None:  # the topic went to another category: its old address still leads to it
            return redirect(help_path(language, moved.category, moved.topic), 301)
        return _not_found(language, explicit, "article")
    if not ({"voted", "commented"} & set(request.args)):  # the page again after a vote is not a read
        _count_view(topic, language)
    vote_id = _vote_of(request.args.get("voted"), topic)
    return _article_response(article, articles, language, explicit, vote_token=request.args.get("voted") if vote_id else None,
                             commented=request.args.get("commented") == "1")


def _article_response(article, articles: ArticleSet, language: str, explicit: bool, status: int = 200, **feedback):
    category = articles.category(article.category)
    crumbs = _crumbs(language, category, article)
    return _render("help/article.html", language, explicit, (article.category, article.topic), status,
                   article=article, category=category, articles=articles, related=_related(article.topic, language, articles),
                   crumbs=crumbs, breadcrumbs_ld=_breadcrumbs(crumbs), faq_ld=_faq_json_ld([article], language),
                   form_token=form_token(article.topic),
                   feedback_url=help_path(language, article.category, article.topic, "feedback"),
                   comment_limit=current_app.config["MAX_MESSAGE_CHARS"], help_path=help_path, **feedback)


def _form_refused(language: str, status: int, key: str, headers: Optional[dict] = None):
    t = _strings()[language]
    response = _render("help/error.html", language, True, (), status, heading=t[key], detail=t[key + "_detail"])
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.post("/help/<category>/<topic>/feedback")
@bp.post("/en/help/<category>/<topic>/feedback")
def feedback(category: str, topic: str):
    """"Was this article helpful?": a yes/no (with or without a comment), or the comment added to
    the vote just made. Answers with a redirect back to the article (post/redirect/get)."""
    language = "en" if request.path.startswith("/en/") else "ja"
    articles = published_articles()
    article = _article_lookup(articles, category, topic)
    if article is None:
        return _not_found(language, True, "article")
    if not _same_origin() or not _form_token_valid(request.form.get("token", ""), topic):
        return _form_refused(language, 403, "form_expired")
    try:
        services().limiter.check("help_feedback", request.remote_addr or "unknown",
                                 current_app.config["RATE_LIMIT_HELP_FEEDBACK"])
    except RateLimited as limited:
        return _form_refused(language, 429, "too_many", limited.headers)

    # One line, card numbers masked as in every other stored text (handoff/masking.py).
    comment = mask_card_numbers(" ".join((request.form.get("comment") or "").split())) or None
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    vote_token = request.form.get("vote")
    helpful = request.form.get("helpful")
    if comment is not None and len(comment) > limit:
        return _article_response(article, articles, language, True, 422, vote_token=vote_token if _vote_of(vote_token, topic) else None,
                                 error=_strings()[language]["comment_too_long"].format(n=limit),
                                 comment_text=comment[:limit * 2])
    article_url = help_path(language, category, topic)
    if vote_token is not None:  # the second step: a comment on the vote just made
        vote_id = _vote_of(vote_token, topic)
        if vote_id is None:
            return _form_refused(language, 403, "form_expired")
        if comment is None:
            return _article_response(article, articles, language, True, 422, vote_token=vote_token,
                                     error=_strings()[language]["comment_missing"])
        with services().db.writing() as session:
            session.execute(update(HelpVote).where(HelpVote.id == vote_id, HelpVote.comment.is_(None))
                            .values(comment=comment).execution_options(synchronize_session=False))
        return redirect(f"{article_url}?commented=1#feedback", 303)
    if helpful not in ("yes", "no"):
        return _article_response(article, articles, language, True, 422, error=_strings()[language]["choose_yes_no"])
    with services().db.writing() as session:
        vote = HelpVote(topic=topic, language=language, helpful=helpful == "yes", comment=comment, created_at=utcnow())
        session.add(vote)
        session.flush()
        vote_id = vote.id
    if comment is not None:
        return redirect(f"{article_url}?commented=1#feedback", 303)
    return redirect(f"{article_url}?helpful={helpful}&voted={_signer('vote').dumps([vote_id, topic])}#feedback", 303)


@bp.get("/help/search")
@bp.get("/en/help/search")
def search_page():
    language, explicit = _language()
    query = " ".join((request.args.get("q") or "").split())
    if len(query) > HELP_QUERY_CHARS:
        t = _strings()[language]
        return _render("help/error.html", language, explicit, ("search",), 422, heading=t["query_too_long"],
                       detail=t["query_too_long_detail"].format(n=HELP_QUERY_CHARS))
    articles = published_articles()
    hits, no_good_result = [], False
    if query:
        from .help_search import search

        # Recorded (crawlers' aside) for the dashboard; one with no good result goes to the editors'
        # unanswered list.
        result = search(current_app._get_current_object(), query, language, limit=10, record=_counted())
        hits = [h for h in result.hits if articles.article(h.topic) is not None]
        no_good_result = result.no_good_result or not hits
    crumbs = _crumbs(language) + [(_strings()[language]["search_results"], help_path(language, "search"))]
    return _render("help/search.html", language, explicit, ("search",), query=query, hits=hits,
                   no_good_result=no_good_result, crumbs=crumbs, breadcrumbs_ld=None, articles=articles,
                   help_path=help_path)


@bp.get("/help/sitemap.xml")
def sitemap():
    """Every page in both languages, each with its alternates (hreflang), for search engines."""
    articles = published_articles()
    pages = [()] + [(c.id,) for c in articles.categories()] + [(a.category, a.topic) for a in articles.all()]
    xml = render_template("help/sitemap.xml", pages=pages, languages=LANGUAGES,
                          url=lambda lang, parts: _absolute(help_path(lang, *parts)))
    return Response(xml, mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    """The help center is for search engines; the console and the APIs are not."""
    lines = ["User-agent: *", "Allow: /help", "Allow: /en/help", "Disallow: /api/", "Disallow: /console",
             f"Sitemap: {_absolute(url_for('help_center.sitemap'))}", ""]
    return Response("\n".join(lines), mimetype="text/plain")
