"""The editors' API: unanswered questions collected from real conversations (fallbacks, handoffs,
"did not help"), grouped, and turned into content changes; handled questions leave the list."""
from __future__ import annotations

import pytest

from handoff import help_search

GROUPS = "/api/editor/unanswered"


def test_questions_that_fell_back_led_to_a_handoff_or_did_not_help_are_collected(customer, sign_in, app):
    c = customer("ja")
    c.say("大阪に実店舗はありますか")                 # fell back
    c.say("実店舗はどこにありますか")                 # fell back
    helped_not = customer("ja")
    helped_not.say("送料はいくらですか")              # answered as shipping_fee...
    helped_not.say("/deny")                            # ...but it did not help
    handed_off = customer("en")
    handed_off.say("How much is shipping?")            # answered...
    handed_off.say("/request_human")                   # ...then a person asked for
    fine = customer("ja")
    fine.say("注文をキャンセルしたい")               # answered, nothing wrong: not listed

    # The topics' examples are embedded by the warm-up the service starts with (never in the request).
    help_search.start_warmup(app)
    assert help_search.service(app).wait()
    body = sign_in("editor").get(GROUPS).get_json()
    assert body["index_warming"] is False
    by_text = {e["text"]: e for g in body["groups"] for e in g["examples"]}
    assert set(by_text) == {"大阪に実店舗はありますか", "実店舗はどこにありますか", "送料はいくらですか",
                            "How much is shipping?"}
    assert by_text["大阪に実店舗はありますか"]["reasons"] == ["fallback"]
    assert by_text["送料はいくらですか"]["reasons"] == ["not_helpful"]
    assert by_text["送料はいくらですか"]["topic"] == "shipping_fee"
    assert by_text["How much is shipping?"]["reasons"] == ["handoff"]
    assert body["questions"] == 4
    store = next(g for g in body["groups"] if "大阪に実店舗はありますか" in g["texts"])
    assert store["count"] == 2 and store["languages"] == {"ja": 2}      # paraphrases grouped
    shipping = next(g for g in body["groups"] if "送料はいくらですか" in g["texts"])
    assert shipping["nearest_topic"]["id"] == "shipping_fee"
    assert {"id": "shipping_fee", "category": "shipping", "title": {"ja": "送料について", "en": "Shipping fee"},
            "examples": 8} in body["topics"]
    assert "store" in body["categories"]


def test_only_editors_and_admins_see_and_change_them(sign_in):
    agent = sign_in("agent")
    assert agent.get(GROUPS).status_code == 403
    assert agent.post(GROUPS + "/dismiss", json={"message_ids": []}).status_code == 403
    assert sign_in("admin").get(GROUPS).status_code == 200
    editor = sign_in("editor")
    assert editor.client.post(GROUPS + "/dismiss", json={"message_ids": []}).status_code == 403  # no CSRF token


def test_adding_a_groups_questions_to_a_topic_writes_the_yaml_and_takes_them_off_the_list(customer, sign_in, project):
    c = customer("ja")
    c.say("北海道までの送料はいくらかかりますか")
    c.say("沖縄への送料を教えて")
    editor = sign_in("editor")
    group = next(g for g in editor.get(GROUPS).get_json()["groups"] if "沖縄への送料を教えて" in g["texts"])
    nlu = project / "data" / "nlu" / "shipping.yml"
    before = nlu.read_text(encoding="utf-8").splitlines(keepends=True)

    response = editor.post(GROUPS + "/add-examples", json={
        "topic": "shipping_fee", "examples": group["texts"], "message_ids": group["message_ids"]})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    at = before.index("- intent: shipping_time\n")
    assert nlu.read_text(encoding="utf-8").splitlines(keepends=True) == \
        before[:at] + [f"    - {text}\n" for text in group["texts"]] + before[at:]
    assert body["change"]["files"] == ["data/nlu/shipping.yml"]
    assert [l for l in body["change"]["diff"].splitlines() if l.startswith("-") and not l.startswith("---")] == []
    assert sorted(l[1:] for l in body["change"]["diff"].splitlines() if l.startswith("+    - ")) == \
        sorted(f"    - {t}" for t in group["texts"])
    assert body["handled"] == 2
    texts = {t for g in editor.get(GROUPS).get_json()["groups"] for t in g["texts"]}
    assert not texts & set(group["texts"])
    old_list = editor.get("/api/admin/unanswered").get_json()["questions"]
    assert not {q["text"] for q in old_list} & set(group["texts"])


def test_drafting_a_new_topic_from_a_group(customer, sign_in, project):
    c = customer("ja")
    c.say("ギフトカードは販売していますか")
    customer("en").say("Do you sell gift cards?")
    editor = sign_in("editor")
    groups = editor.get(GROUPS).get_json()["groups"]
    ids = [i for g in groups for i in g["message_ids"]]
    response = editor.post(GROUPS + "/new-topic", json={
        "topic": {"id": "gift_card", "category": "store", "title": {"ja": "ギフトカード", "en": "Gift cards"},
                  "answer": {"ja": "ギフトカードは販売しておりません。", "en": "We do not sell gift cards."}},
        "examples": ["ギフトカードは販売していますか", "Do you sell gift cards?"], "message_ids": ids})
    assert response.status_code == 201, response.get_json()
    assert sorted(response.get_json()["change"]["files"]) == ["data/nlu/store.yml", "data/topics/store.yml",
                                                               "domain.yml"]
    assert "  utter_gift_card:\n" in (project / "data" / "nlu" / "store.yml").read_text(encoding="utf-8")
    assert "  - gift_card\n" in (project / "domain.yml").read_text(encoding="utf-8")
    assert editor.get(GROUPS).get_json()["groups"] == []
    again = editor.post(GROUPS + "/new-topic", json={
        "topic": {"id": "gift_card", "category": "store", "title": {"ja": "x", "en": "y"},
                  "answer": {"ja": "x", "en": "y"}}, "examples": ["ギフト券"], "message_ids": []})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "topic_exists"


def test_dismissing_takes_questions_off_without_changing_the_content(customer, sign_in, project):
    customer("en").say("write me a poem about cats")
    editor = sign_in("editor")
    before = {p: p.read_bytes() for p in project.rglob("*.yml")}
    [group] = editor.get(GROUPS).get_json()["groups"]
    assert editor.post(GROUPS + "/dismiss", json={"message_ids": group["message_ids"]}).get_json() == {"handled": 1}
    assert editor.get(GROUPS).get_json()["groups"] == []
    assert {p: p.read_bytes() for p in project.rglob("*.yml")} == before


@pytest.mark.parametrize("body, status, code", [
    ({"topic": "no_such_topic", "examples": ["x"], "message_ids": []}, 422, "unknown_topic"),
    ({"topic": "shipping_fee", "examples": [], "message_ids": []}, 422, "missing_field"),
    ({"topic": "shipping_fee", "examples": "送料", "message_ids": []}, 422, "invalid_field"),
    ({"topic": "shipping_fee", "examples": ["送料"], "message_ids": ["1"]}, 422, "invalid_field"),
])
def test_bad_requests_are_errors_as_data(sign_in, body, status, code):
    response = sign_in("editor").post(GROUPS + "/add-examples", json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
