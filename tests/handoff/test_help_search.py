"""Help-center search (handoff/help_search.py, GET /api/v1/help/search): by meaning and by keyword in
both languages, tolerant of typos and kana, snippets escaped and highlighted, a search with no good
result recorded for the editors' unanswered list, bad input refused, the index rebuilt when the
content changes, and its embeddings computed by the background warm-up, never in a request.

The embeddings come from the machine's cache ($TSUNAGI_CACHE/embeddings), as in the editors' tests:
only texts never seen before cost time; the warm-up test uses an empty cache of its own."""
from __future__ import annotations

import threading

import pytest

from handoff import help_search
from handoff.help_articles import load_articles
from handoff.unanswered import Embedder

from handoff_support import AgentSession, add_agent
from tests.support.project_copy import copy_content

SEARCH = "/api/v1/help/search"


def warm(app):
    help_search.start_warmup(app)
    assert help_search.service(app).wait(600), "the warm-up did not finish"
    assert help_search.service(app).index().vectors is not None
    return app


@pytest.fixture
def warm_app(make_app):
    return warm(make_app(RATE_LIMIT_HELP_SEARCH_PER_IP="100000/minute"))


def topics(client, query, lang):
    response = client.get(SEARCH, query_string={"q": query, "lang": lang})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ranked(body):
    return [hit["topic"] for hit in body["hits"]]


@pytest.mark.parametrize("query, lang, topic", [
    ("荷物がまだ来ない", "ja", "shipping_not_arrived"),
    ("届かない", "ja", "shipping_not_arrived"),
    ("カード通らない", "ja", "payment_card_declined"),
    ("how long does it take to get my stuff", "en", "shipping_time"),
    ("my parcel never showed up", "en", "shipping_not_arrived"),
])
def test_a_customers_own_words_find_the_article_by_meaning(warm_app, query, lang, topic):
    body = topics(warm_app.test_client(), query, lang)
    assert ranked(body)[0] == topic
    assert body["no_good_result"] is False and body["warming"] is False
    prefix = "/en" if lang == "en" else ""  # the article's page in the asked language
    assert body["hits"][0]["url"] == f"{prefix}/help/{load_articles(warm_app).article(topic).category}/{topic}"


def test_can_i_pay_later_finds_a_payment_article(warm_app):
    # "later": installments, cash on delivery and convenience-store payment all answer it in part
    body = topics(warm_app.test_client(), "can I pay later", "en")
    assert ranked(body)[0].startswith("payment_")


@pytest.mark.parametrize("query, lang, topic", [
    ("PayPay", "ja", "payment_methods"),                                     # a name, as on the page
    ("no-reply@komorebi-store.example", "en", "order_confirmation_email"),   # an address in one answer only
    ("Apple Pay", "en", "payment_methods"),
])
def test_exact_terms_from_the_articles_are_found_by_keyword(warm_app, query, lang, topic):
    body = topics(warm_app.test_client(), query, lang)
    assert ranked(body)[0] == topic
    assert "<mark>" in body["hits"][0]["snippet_html"]


@pytest.mark.parametrize("query, lang, topic", [
    ("ｶｰﾄﾞ 通らない", "ja", "payment_card_declined"),       # half-width kana
    ("へんぴんしたい", "ja", "returns_policy"),               # kana for kanji
    ("retrun policy", "en", "returns_policy"),                # a typo
    ("how long does delivry take", "en", "shipping_time"),
])
def test_typos_and_kana_variants_still_find_it(warm_app, query, lang, topic):
    assert topic in ranked(topics(warm_app.test_client(), query, lang))[:2]


def test_titles_and_snippets_are_in_the_asked_language(warm_app):
    client = warm_app.test_client()
    ja = topics(client, "送料はいくら", "ja")["hits"][0]
    en = topics(client, "送料はいくら", "en")["hits"][0]
    assert (ja["topic"], ja["title"], en["title"]) == ("shipping_fee", "送料について", "Shipping fee")
    assert "<mark>送料</mark>" in ja["snippet_html"]
    assert en["snippet_html"].startswith("Shipping is")
    # no lang: Accept-Language decides
    body = client.get(SEARCH, query_string={"q": "送料"}, headers={"Accept-Language": "en-GB,en;q=0.9"}).get_json()
    assert body["language"] == "en"


def test_a_snippet_escapes_the_text_and_marks_only_the_matched_words():
    html = help_search.snippet_html('Use <b>PayPay</b> & "Apple Pay" <script>x</script>', "paypay <script>")
    assert "<b>" not in html and "<script>" not in html
    assert "&lt;b&gt;<mark>PayPay</mark>&lt;/b&gt;" in html
    assert "&amp;" in html and "&#34;Apple Pay&#34;" in html
    japanese = help_search.snippet_html("ご注文後7日以内に返品できます。", "返品したい")
    assert japanese == "ご注文後7日以内に<mark>返品</mark>できます。"


def test_a_body_with_html_is_shown_as_text_in_snippets_and_articles(make_app, tmp_path):
    project = copy_content(tmp_path / "project", examples_per_intent=3)
    topics_file = project / "data" / "topics" / "store.yml"
    title = '    title: {ja: "ギフトラッピング", en: "Gift wrapping"}\n'
    text = topics_file.read_text(encoding="utf-8")
    topics_file.write_text(text.replace(title, title + "    body:\n      ja: |\n        <script>alert(1)</script>\n"
                                                      "        ひのき箱の包装は **無料** です。\n"
                                                      "      en: |\n        Hinoki boxes are wrapped for free.\n"),
                           encoding="utf-8")
    app = make_app(TSUNAGI_PROJECT_DIR=str(project))
    article = load_articles(app).article("gift_wrapping")
    assert "<script>" not in article.body_html["ja"] and "&lt;script&gt;" in article.body_html["ja"]
    assert "<strong>無料</strong>" in article.body_html["ja"]
    body = topics(app.test_client(), "ひのき箱", "ja")
    assert ranked(body)[0] == "gift_wrapping"
    assert "<mark>ひのき箱</mark>" in body["hits"][0]["snippet_html"]
    assert "<script>" not in body["hits"][0]["snippet_html"]


def test_no_good_result_is_recorded_and_listed_for_the_editors(warm_app):
    client = warm_app.test_client()
    body = topics(client, "今日の天気はどうですか", "ja")
    assert body["no_good_result"] is True
    assert topics(client, "送料はいくら", "ja")["no_good_result"] is False
    client.get(SEARCH, query_string={"q": "明日の天気", "lang": "ja", "record": "false"})  # still typing: not kept

    add_agent(warm_app, "editor@shop.example", "editor")
    editor = AgentSession(warm_app, "editor@shop.example")
    listed = editor.get("/api/editor/unanswered").get_json()
    examples = [e for g in listed["groups"] for e in g["examples"]]
    assert [e["text"] for e in examples] == ["今日の天気はどうですか"]
    assert examples[0]["reasons"] == ["help_search"] and examples[0]["message_id"] is None
    group = listed["groups"][0]
    assert group["search_ids"] == [examples[0]["search_id"]] and group["message_ids"] == []

    dismissed = editor.post("/api/editor/unanswered/dismiss", json={"message_ids": [], "search_ids": group["search_ids"]})
    assert dismissed.get_json() == {"handled": 1}
    assert editor.get("/api/editor/unanswered").get_json()["groups"] == []


def test_card_numbers_in_a_search_are_masked_before_they_are_stored(warm_app):
    from sqlalchemy import select

    from handoff.models import HelpSearch

    topics(warm_app.test_client(), "4111 1111 1111 1111 のカードが使えない", "ja")
    with warm_app.extensions["tsunagi"].db.reading() as session:
        stored = session.scalars(select(HelpSearch.query)).all()
    assert stored == ["**** **** **** 1111 のカードが使えない"]


@pytest.mark.parametrize("query_string, code", [
    ({}, "invalid_parameter"),
    ({"q": "   "}, "invalid_parameter"),
    ({"q": "あ" * 201}, "invalid_parameter"),
    ({"q": "送料", "lang": "fr"}, "invalid_parameter"),
    ({"q": "送料", "limit": "0"}, "invalid_parameter"),
    ({"q": "送料", "limit": "x"}, "invalid_parameter"),
    ({"q": "a\x00b"}, "invalid_parameter"),
])
def test_bad_input_gets_a_json_error(make_app, query_string, code):
    response = make_app().test_client().get(SEARCH, query_string=query_string)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code


def test_searches_are_rate_limited_per_client(make_app):
    client = make_app(RATE_LIMIT_HELP_SEARCH_PER_IP="2/minute").test_client()
    assert [client.get(SEARCH, query_string={"q": "送料"}).status_code for _ in range(3)] == [200, 200, 429]
    response = client.get(SEARCH, query_string={"q": "送料"})
    assert response.get_json()["error"]["code"] == "rate_limited" and int(response.headers["Retry-After"]) >= 1


def test_the_endpoint_is_in_the_openapi_document(make_app):
    document = make_app().test_client().get("/api/openapi.json").get_json()
    operation = document["paths"][SEARCH]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "lang", "limit", "record"}
    assert next(p for p in operation["parameters"] if p["name"] == "q")["schema"]["maxLength"] == 200


def test_the_index_is_rebuilt_when_the_content_changes(make_app, tmp_path):
    project = copy_content(tmp_path / "project", examples_per_intent=3)
    app = warm(make_app(TSUNAGI_PROJECT_DIR=str(project)))
    before = help_search.service(app).index().version
    assert "gift_wrapping" not in ranked(topics(app.test_client(), "ひのき箱", "ja"))[:1]

    topics_file = project / "data" / "topics" / "store.yml"
    title = '    title: {ja: "ギフトラッピング", en: "Gift wrapping"}\n'
    topics_file.write_text(topics_file.read_text(encoding="utf-8").replace(
        title, title + "    body:\n      ja: ひのき箱もお包みします。\n      en: We also wrap hinoki boxes.\n"),
        encoding="utf-8")
    first = topics(app.test_client(), "ひのき箱", "ja")   # starts the rebuild; the old index answers meanwhile
    assert help_search.service(app).wait(600)
    after = help_search.service(app).index()
    assert after.version != before and after.vectors is not None
    assert ranked(topics(app.test_client(), "ひのき箱", "ja"))[0] == "gift_wrapping"
    assert first["hits"] is not None


class WatchedEmbedder(Embedder):
    """The real embedder, noting which thread embedded texts (the request's, or the warm-up's)."""

    def __init__(self, cache_dir):
        super().__init__(cache_dir)
        self.threads = []

    def embed(self, texts):
        self.threads.append((threading.current_thread().name, list(texts)))
        return super().embed(texts)


def test_a_fresh_start_embeds_in_the_background_never_in_the_request(make_app, tmp_path):
    project = copy_content(tmp_path / "project", examples_per_intent=3)
    app = make_app(TSUNAGI_PROJECT_DIR=str(project), EMBEDDING_CACHE_DIR=str(tmp_path / "empty-cache"))
    embedder = WatchedEmbedder(str(tmp_path / "empty-cache"))
    app.extensions["tsunagi_editor"] = embedder   # the editors' API and the search share it
    app.extensions.pop("tsunagi_help_search", None)
    client = app.test_client()

    body = topics(client, "送料はいくら", "ja")   # the first request of a fresh start, empty cache
    assert body["warming"] is True and ranked(body)[0] == "shipping_fee"   # answered, by keyword
    with app.extensions["tsunagi"].db.writing() as session:  # a search the editors have to look at
        help_search.record_search(session, help_search.SearchResult([], True, True, "今日の天気はどうですか", "ja"))
    add_agent(app, "editor@shop.example", "editor")
    listed = AgentSession(app, "editor@shop.example").get("/api/editor/unanswered").get_json()
    assert listed["questions"] == 1 and listed["index_warming"] is True
    assert listed["groups"][0]["nearest_topic"] is None
    assert help_search.service(app).wait(600)
    # the topics' examples were embedded by the warm-up thread only; a request embedded at most the
    # editors' question itself
    examples = {e for a in load_articles(app).all() for e in a.examples}
    in_requests = [texts for name, texts in embedder.threads if name != "help-search-warmup"]
    assert in_requests == [["今日の天気はどうですか"]]
    warmed = {t for name, texts in embedder.threads if name == "help-search-warmup" for t in texts}
    assert examples <= warmed
    assert topics(client, "送料はいくら", "ja")["warming"] is False
    again = AgentSession(app, "editor@shop.example").get("/api/editor/unanswered").get_json()
    assert again["index_warming"] is False and again["groups"][0]["nearest_topic"] is not None


def test_the_service_starts_the_warm_up_with_the_app(make_app, tmp_path):
    project = copy_content(tmp_path / "project", examples_per_intent=3)
    app = make_app(TESTING=False, TSUNAGI_PROJECT_DIR=str(project))
    search = app.extensions["tsunagi_help_search"]
    assert search.wait(600) and search.warmups == 1
    assert search.index().vectors is not None


def test_related_articles_are_the_nearest_in_meaning(warm_app):
    related = [h.topic for h in help_search.related(warm_app, "payment_card_declined", "ja", k=3)]
    assert len(related) == 3 and "payment_card_declined" not in related
    assert any(topic.startswith("payment_") for topic in related)
