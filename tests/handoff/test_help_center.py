"""The public help center (handoff/help_center.py): its pages in both languages, 404s, structured
data, the sitemap, "Was this article helpful?" with its protections, the published-content rule, the
bot's link to an article, and the dashboard's self-service figures against a hand count."""
from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, select

from handoff import help_search
from handoff.help_articles import load_articles
from handoff.models import HelpArticleView, HelpSearch, HelpVisit, HelpVote

from handoff_support import Customer

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html"}
JSON_LD = re.compile(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', re.S)


@pytest.fixture
def help_app(make_app):
    """An app whose help-center tables start empty (the PostgreSQL schema is shared by the tests)."""
    app = make_app()
    with app.extensions["tsunagi"].db.writing() as session:
        for model in (HelpArticleView, HelpVisit, HelpVote, HelpSearch):
            session.execute(delete(model))
    return app


@pytest.fixture
def help_client(help_app):
    return help_app.test_client()


def _rows(app, model):
    with app.extensions["tsunagi"].db.reading() as session:
        return list(session.scalars(select(model)))


def _lang_of(response) -> str:
    return re.search(r'<html lang="([a-z]+)">', response.get_data(as_text=True)).group(1)


def _form_token(page_html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page_html).group(1)


def _json_ld(page_html: str) -> list[dict]:
    return [json.loads(block) for block in JSON_LD.findall(page_html)]


# Pages and languages.

@pytest.mark.parametrize("path, headers, language", [
    ("/help", {}, "ja"),
    ("/en/help", {}, "en"),
    ("/help?lang=en", {}, "en"),
    ("/help", {"Accept-Language": "en-US,en;q=0.9"}, "en"),
    ("/help", {"Accept-Language": "fr"}, "ja"),
    ("/en/help", {"Accept-Language": "ja"}, "en"),
    ("/help/shipping", {}, "ja"),
    ("/en/help/payment", {}, "en"),
    ("/help/shipping/shipping_fee", {}, "ja"),
    ("/en/help/shipping/shipping_fee", {}, "en"),
    ("/help/search?q=送料", {}, "ja"),
    ("/en/help/search?q=shipping", {}, "en"),
])
def test_pages_answer_in_the_language_asked(help_client, path, headers, language):
    response = help_client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert _lang_of(response) == language
    assert response.headers["Content-Language"] == language
    # the page's own strict CSP (security.py), unchanged
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_accept_language_varies_only_without_an_explicit_choice(help_client):
    assert "Accept-Language" in help_client.get("/help").headers.get("Vary", "")
    assert "Accept-Language" not in help_client.get("/en/help").headers.get("Vary", "")
    assert "Accept-Language" not in help_client.get("/help?lang=ja").headers.get("Vary", "")


def test_every_article_and_category_has_its_page_with_alternates(help_app, help_client):
    articles = load_articles(help_app)
    assert len(articles.all()) >= 20
    for category in articles.categories():
        page = help_client.get(f"/en/help/{category.id}").get_data(as_text=True)
        for topic in category.articles:
            assert f'href="/en/help/{category.id}/{topic}"' in page
    for article in articles.all():
        for prefix, lang in (("", "ja"), ("/en", "en")):
            response = help_client.get(f"{prefix}/help/{article.category}/{article.topic}")
            html = response.get_data(as_text=True)
            assert response.status_code == 200, article.topic
            assert f"<h1 id=\"article-title\">{article.title[lang]}</h1>" in html.replace("&#39;", "'")
            assert f'hreflang="ja" href="http://localhost/help/{article.category}/{article.topic}"' in html
            assert f'hreflang="en" href="http://localhost/en/help/{article.category}/{article.topic}"' in html
            assert f'rel="canonical" href="http://localhost{prefix}/help/{article.category}/{article.topic}"' in html


def test_home_lists_the_categories_and_the_most_read_articles(help_app, help_client):
    for _ in range(3):
        help_client.get("/help/payment/payment_methods")
    help_client.get("/en/help/returns/returns_policy")
    html = help_client.get("/help").get_data(as_text=True)
    for category in load_articles(help_app).categories():
        assert f'href="/help/{category.id}"' in html
    most_read = re.search(r'<ol class="article-list" id="most-read">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r'href="/help/([a-z_]+/[a-z_]+)"', most_read) == ["payment/payment_methods", "returns/returns_policy"]


def test_pages_have_landmarks_a_skip_link_and_a_labelled_search(help_client):
    html = help_client.get("/help/shipping/shipping_fee").get_data(as_text=True)
    for landmark in ("<header", "<nav", '<main id="main"', "<footer", "<aside"):
        assert landmark in html
    assert '<a class="skip-link" href="#main">' in html
    assert '<label for="help-q"' in html and 'id="help-q"' in html and 'role="search"' in html
    assert html.count("<h1") == 1
    assert 'aria-label="パンくずリスト"' in html and 'aria-current="page"' in html
    assert 'style=' not in html and " on" not in re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S).lower().replace(" only", "")


@pytest.mark.parametrize("path", ["/help/nope", "/help/shipping/nope", "/en/help/shipping/zzz", "/help/nope/nope"])
def test_unknown_category_or_topic_is_a_404_page_or_json(help_client, path):
    page = help_client.get(path, headers=HTML)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "<h1>" in page.get_data(as_text=True)
    data = help_client.get(path, headers={"Accept": "application/json"})
    assert data.status_code == 404
    assert data.get_json()["error"]["code"] == "not_found"


def test_an_article_asked_under_another_category_moves_permanently(help_client):
    response = help_client.get("/en/help/payment/shipping_fee")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/en/help/shipping/shipping_fee")


# Structured data and the sitemap.

def test_article_and_category_pages_carry_faqpage_json_ld(help_app, help_client):
    articles = load_articles(help_app)
    article = articles.article("shipping_fee")
    blocks = _json_ld(help_client.get("/en/help/shipping/shipping_fee").get_data(as_text=True))
    faq = next(b for b in blocks if b["@type"] == "FAQPage")
    assert faq["@context"] == "https://schema.org"
    assert faq["mainEntity"] == [{"@type": "Question", "name": article.title["en"],
                                  "acceptedAnswer": {"@type": "Answer", "text": article.answer["en"]}}]
    crumbs = next(b for b in blocks if b["@type"] == "BreadcrumbList")
    assert [i["item"] for i in crumbs["itemListElement"]] == [
        "http://localhost/en/help", "http://localhost/en/help/shipping", "http://localhost/en/help/shipping/shipping_fee"]

    category = articles.category("payment")
    blocks = _json_ld(help_client.get("/help/payment").get_data(as_text=True))
    faq = next(b for b in blocks if b["@type"] == "FAQPage")
    assert [q["name"] for q in faq["mainEntity"]] == [articles.article(t).title["ja"] for t in category.articles]
    assert all(q["acceptedAnswer"]["text"] for q in faq["mainEntity"])


def test_sitemap_lists_every_page_in_both_languages(help_app, help_client):
    response = help_client.get("/help/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.fromstring(response.data)
    locations = {u.find("s:loc", ns).text for u in root.findall("s:url", ns)}
    articles = load_articles(help_app)
    expected = {"http://localhost/help", "http://localhost/en/help"}
    for category in articles.categories():
        expected |= {f"http://localhost/help/{category.id}", f"http://localhost/en/help/{category.id}"}
    for article in articles.all():
        expected |= {f"http://localhost/help/{article.category}/{article.topic}",
                     f"http://localhost/en/help/{article.category}/{article.topic}"}
    assert locations == expected
    first = root.find("s:url", ns)
    assert {link.get("hreflang") for link in first.findall("x:link", ns)} == {"ja", "en", "x-default"}

    robots = help_client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http://localhost/help/sitemap.xml" in robots and "Disallow: /api/" in robots


# "Was this article helpful?"

def _vote(client, path, helpful=None, comment=None, token=None, **headers):
    page = client.get(path).get_data(as_text=True)
    form = {"token": token if token is not None else _form_token(page)}
    if helpful is not None:
        form["helpful"] = helpful
    if comment is not None:
        form["comment"] = comment
    return client.post(path + "/feedback", data=form, headers=headers)


def test_a_no_then_a_comment_is_recorded_on_the_same_vote(help_app, help_client):
    response = _vote(help_client, "/help/shipping/shipping_not_arrived", "no")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/help/shipping/shipping_not_arrived?helpful=no&voted=")
    [vote] = _rows(help_app, HelpVote)
    assert (vote.topic, vote.language, vote.helpful, vote.comment) == ("shipping_not_arrived", "ja", False, None)

    page = help_client.get(location).get_data(as_text=True)
    assert "どのような情報をお探しでしたか" in page or "ご意見" in page
    vote_token = parse_qs(urlsplit(location).query)["voted"][0]
    response = help_client.post("/help/shipping/shipping_not_arrived/feedback",
                                data={"token": _form_token(page), "vote": vote_token, "comment": "  追跡番号が\nどこにあるか  "})
    assert response.status_code == 303 and response.headers["Location"].endswith("?commented=1#feedback")
    [vote] = _rows(help_app, HelpVote)
    assert vote.comment == "追跡番号が どこにあるか"
    # the same vote token cannot replace the comment
    help_client.post("/help/shipping/shipping_not_arrived/feedback",
                     data={"token": _form_token(page), "vote": vote_token, "comment": "other"})
    assert [v.comment for v in _rows(help_app, HelpVote)] == ["追跡番号が どこにあるか"]


def test_a_yes_with_its_comment_in_one_post(help_app, help_client):
    response = _vote(help_client, "/en/help/payment/payment_methods", "yes", "Clear, thanks")
    assert response.status_code == 303 and response.headers["Location"] == "/en/help/payment/payment_methods?commented=1#feedback"
    [vote] = _rows(help_app, HelpVote)
    assert (vote.topic, vote.language, vote.helpful, vote.comment) == ("payment_methods", "en", True, "Clear, thanks")


def test_a_comment_s_card_number_is_masked_and_the_page_after_a_vote_is_not_a_read(help_app, help_client):
    response = _vote(help_client, "/en/help/payment/payment_card_declined", "no", "my card 4111 1111 1111 1111 fails")
    help_client.get(response.headers["Location"])
    [vote] = _rows(help_app, HelpVote)
    assert "4111 1111 1111 1111" not in vote.comment and vote.comment.startswith("my card ")
    assert [(v.topic, v.views) for v in _rows(help_app, HelpArticleView)] == [("payment_card_declined", 1)]


@pytest.mark.parametrize("case", ["no_token", "forged", "other_topic", "cross_origin", "cross_site_fetch"])
def test_a_vote_without_this_site_s_form_is_refused(help_app, help_client, case):
    path = "/help/shipping/shipping_fee"
    other = _form_token(help_client.get("/help/shipping/shipping_time").get_data(as_text=True))
    kwargs = {
        "no_token": {"token": ""},
        "forged": {"token": other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")},
        "other_topic": {"token": other},
        "cross_origin": {"Origin": "https://evil.example"},
        "cross_site_fetch": {"Sec-Fetch-Site": "cross-site"},
    }[case]
    response = _vote(help_client, path, "yes", **kwargs)
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert _rows(help_app, HelpVote) == []


def test_a_same_origin_post_is_accepted(help_app, help_client):
    response = _vote(help_client, "/help/shipping/shipping_fee", "yes", Origin="http://localhost", **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303
    assert len(_rows(help_app, HelpVote)) == 1


def test_an_expired_form_is_refused(make_app):
    app = make_app(HELP_FORM_MAX_AGE_SECONDS=-1)
    client = app.test_client()
    with app.extensions["tsunagi"].db.writing() as session:
        session.execute(delete(HelpVote))
    assert _vote(client, "/help/shipping/shipping_fee", "no").status_code == 403
    assert _rows(app, HelpVote) == []


def test_votes_are_rate_limited_per_client(make_app):
    app = make_app(RATE_LIMIT_HELP_FEEDBACK="2/minute")
    client = app.test_client()
    with app.extensions["tsunagi"].db.writing() as session:
        session.execute(delete(HelpVote))
    assert [_vote(client, "/help/shipping/shipping_fee", "yes").status_code for _ in range(2)] == [303, 303]
    refused = _vote(client, "/help/shipping/shipping_fee", "yes")
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(_rows(app, HelpVote)) == 2


@pytest.mark.parametrize("form, status", [
    ({"helpful": "maybe"}, 422),
    ({}, 422),
    ({"helpful": "no", "comment": "x" * 2001}, 422),
    ({"vote": "not-a-vote", "comment": "hello"}, 403),
])
def test_bad_feedback_input_is_a_4xx(help_app, help_client, form, status):
    page = help_client.get("/help/shipping/shipping_fee").get_data(as_text=True)
    response = help_client.post("/help/shipping/shipping_fee/feedback", data={"token": _form_token(page), **form})
    assert response.status_code == status
    assert _rows(help_app, HelpVote) == []


def test_feedback_on_an_unknown_article_is_a_404(help_client):
    page = help_client.get("/help/shipping/shipping_fee").get_data(as_text=True)
    response = help_client.post("/help/shipping/nope/feedback", data={"token": _form_token(page), "helpful": "yes"})
    assert response.status_code == 404


# Search.

def _warm(app) -> None:
    """The real ranking, with the embeddings (cached by content hash after the first run), as in a
    service whose warm-up finished: keyword-only ranking is what a search gets meanwhile."""
    search = help_search.service(app)
    search.start_warmup()
    assert search.wait(300) and search.index().vectors is not None


def test_search_page_finds_shows_and_records(help_app, help_client):
    _warm(help_app)
    html = help_client.get("/help/search?q=送料").get_data(as_text=True)
    assert 'href="/help/shipping/shipping_fee"' in html
    assert "<mark>" in html
    html = help_client.get("/en/help/search?q=zzqx+vvtr+kkpl").get_data(as_text=True)
    assert 'id="no-result"' in html and "data-tsunagi-open" in html  # offers the chat
    searches = _rows(help_app, HelpSearch)
    assert sorted((s.query, s.no_good_result) for s in searches) == [("zzqx vvtr kkpl", True), ("送料", False)]


def test_search_input_limits(help_client):
    assert help_client.get("/help/search?q=" + "あ" * 201).status_code == 422
    assert help_client.get("/help/search?q=" + "あ" * 200).status_code == 200
    empty = help_client.get("/help/search?q=")
    assert empty.status_code == 200 and 'id="results"' not in empty.get_data(as_text=True)


# Published content only.

def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(ROOT / "domain.yml", project / "domain.yml")
    for folder in ("nlu", "topics"):
        shutil.copytree(ROOT / "data" / folder, project / "data" / folder)
    (project / "models").mkdir()
    return project


def test_pages_change_when_content_is_published_not_when_it_is_edited(make_app, tmp_path, monkeypatch):
    monkeypatch.delenv("TSUNAGI_MODELS_DIR", raising=False)
    project = _copy_project(tmp_path)
    live = project / "models" / "live.json"
    live.write_text('{"live": {"model": "models/releases/a.tar.gz"}}')
    app = make_app(TSUNAGI_PROJECT_DIR=str(project))
    client = app.test_client()
    assert "送料について" in client.get("/help/shipping/shipping_fee").get_data(as_text=True)

    topics = project / "data" / "topics" / "shipping.yml"
    topics.write_text(topics.read_text(encoding="utf-8").replace("送料について", "送料のご案内"), encoding="utf-8")
    edited = client.get("/help/shipping/shipping_fee").get_data(as_text=True)
    assert "送料について" in edited and "送料のご案内" not in edited  # an unpublished edit

    live.write_text('{"live": {"model": "models/releases/b.tar.gz"}}')  # make publish
    os.utime(live, ns=(live.stat().st_atime_ns, live.stat().st_mtime_ns + 1_000_000_000))
    assert "送料のご案内" in client.get("/help/shipping/shipping_fee").get_data(as_text=True)


# The bot links to the article.

def test_a_bot_answer_carries_its_article_url(help_app, help_client):
    for language, text, url in (("ja", "送料はいくらですか", "/help/shipping/shipping_fee"),
                                ("en", "how much is shipping", "/en/help/shipping/shipping_fee")):
        customer = Customer(help_client, language)
        replies = customer.send(text).get_json()["replies"]
        assert replies[0]["article_url"] == url
        assert all("article_url" not in r for r in replies[1:])  # the follow-up question has none
        assert help_client.get(url).status_code == 200
        assert [m.get("article_url") for m in customer.history() if m["sender"] == "bot"][0] == url


# The dashboard's figures, against a hand count.

def test_dashboard_help_center_figures_equal_a_hand_count(help_app, agent_factory):
    _warm(help_app)
    boss = agent_factory("boss@shop.example", role="admin")
    first_visitor, second_visitor, crawler = help_app.test_client(), help_app.test_client(), help_app.test_client()
    # visitor 1: home, two articles (one twice), a search with hits, "no" with a comment
    first_visitor.get("/help")
    first_visitor.get("/help/shipping/shipping_fee")
    first_visitor.get("/help/shipping/shipping_fee")
    first_visitor.get("/help/returns/returns_policy")
    first_visitor.get("/help/search?q=返品")
    _vote(first_visitor, "/help/shipping/shipping_fee", "no", "もっと詳しく")
    # visitor 2, in English: one article, a search with no result, "yes"
    second_visitor.get("/en/help/shipping/shipping_fee")
    second_visitor.get("/en/help/search?q=zzqx+vvtr+kkpl")
    _vote(second_visitor, "/en/help/shipping/shipping_fee", "yes")
    # a crawler's reads count nowhere
    crawler.get("/help/shipping/shipping_fee", headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    # chats: one opened on a help page, one on a shop page, one on another site's /help
    for page_url in ("http://localhost/help/shipping/shipping_fee?chat=open", "https://shop.example/products/1",
                     "https://shop.example/help"):
        assert first_visitor.post("/api/v1/conversations", json={"language": "ja", "page_url": page_url}).status_code == 201

    response = boss.get("/api/admin/kpis?lang=en")
    assert response.status_code == 200, response.get_json()
    figures = response.get_json()["help_center"]
    # _vote reads the article before posting: shipping_fee 2 + 1 (ja) and 1 + 1 (en), returns_policy 1
    assert figures["article_views"] == 6
    assert figures["visits"] == 2
    assert (figures["searches"], figures["searches_no_result"], figures["no_result_rate"]) == (2, 1, 0.5)
    assert figures["votes"] == {"yes": 1, "no": 1, "helpful_rate": 0.5}
    by_topic = {a["topic"]: a for a in figures["articles"]}
    assert by_topic["shipping_fee"] == {"topic": "shipping_fee", "title": "Shipping fee", "views": 5, "yes": 1, "no": 1,
                                        "helpful_rate": 0.5}
    assert by_topic["returns_policy"]["views"] == 1 and by_topic["returns_policy"]["helpful_rate"] is None
    assert [a["topic"] for a in figures["articles"]] == ["shipping_fee", "returns_policy"]
    assert [(c["topic"], c["helpful"], c["comment"]) for c in figures["comments"]] == [("shipping_fee", False, "もっと詳しく")]
    assert (figures["chats_from_help"], figures["chat_rate"]) == (1, 0.5)
    with help_app.extensions["tsunagi"].db.reading() as session:  # the rows themselves
        assert sum(v.views for v in session.scalars(select(HelpArticleView))) == 6
