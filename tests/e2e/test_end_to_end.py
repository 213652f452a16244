"""The whole product with the real bot: FAQ answered, two fallbacks, handoff with the transcript
and NLU results, claim, reply, resolve."""
from service_harness import AgentClient, CustomerClient


def bot_texts(reply):
    return [m["text"] for m in reply["replies"] if m["sender"] == "bot" and m.get("text")]


def test_faq_fallbacks_handoff_claim_reply_resolve(service):
    customer = CustomerClient(service.url, "ja")

    answer = customer.say("送料はいくらですか？")
    assert any("550" in text for text in bot_texts(answer))
    assert any(b["payload"] == "/affirm" for m in answer["replies"] for b in m.get("buttons") or [])

    first = customer.say("同じ注文で2回もカードから引き落とされてるんですけど")
    assert first["replies"] and not any(m["sender"] == "system" and "queue" in (m.get("text") or "") for m in first["replies"])
    customer.say("会社でまとめて50個買いたいので見積もりをお願いしたいです")

    state = customer.http.get(f"{service.url}/api/v1/conversations/{customer.id}", timeout=10).json()
    assert state["status"] == "waiting"
    assert state["queue"]["position"] == 1

    agent = AgentClient(service.url, "yamada")
    [ticket] = [c for c in agent.get("/queue")["queue"] if c["id"] == customer.id]
    assert ticket["reason"] == "repeated_fallback" and ticket["language"] == "ja"

    assert agent.claim(customer.id).status_code == 200
    detail = agent.get(f"/conversations/{customer.id}")
    transcript = detail["messages"]
    customer_turns = [m for m in transcript if m["sender"] == "customer"]
    assert [m["text"] for m in customer_turns] == [
        "送料はいくらですか？", "同じ注文で2回もカードから引き落とされてるんですけど",
        "会社でまとめて50個買いたいので見積もりをお願いしたいです"]
    assert customer_turns[0]["nlu"]["intent"] == "shipping_fee"
    assert [m["nlu"]["intent"] for m in customer_turns[1:]] == ["nlu_fallback", "nlu_fallback"]
    assert all(0 <= m["nlu"]["confidence"] <= 1 and m["nlu"]["intent_ranking"] for m in customer_turns)
    assert any(m["sender"] == "bot" for m in transcript)

    agent.reply(customer.id, "担当の山田です。ご迷惑をおかけしております。確認いたします。")
    history = customer.http.get(f"{service.url}/api/v1/conversations/{customer.id}/messages", timeout=10).json()["messages"]
    assert history[-1]["sender"] == "agent" and "山田" in history[-1]["text"]

    # The bot stays silent while a person owns the conversation.
    during = customer.say("ありがとうございます、お願いします")
    assert not [m for m in during["replies"] if m["sender"] == "bot"]

    assert agent.post(f"/conversations/{customer.id}/resolve").status_code == 200
    state = customer.http.get(f"{service.url}/api/v1/conversations/{customer.id}", timeout=10).json()
    assert state["status"] == "resolved"


def test_a_message_without_words_is_answered_in_the_conversations_language(service):
    """The gateway's language_hint reaches the bot: "12345" alone says nothing about the language,
    so an English conversation is answered in English (before, the bot's slot kept its Japanese
    default and answered in Japanese)."""
    customer = CustomerClient(service.url, "en")
    reply = customer.say("12345")
    texts = bot_texts(reply)
    assert texts, reply
    assert all(not any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts), texts
    texts = bot_texts(customer.say("OK"))  # a lone Latin word keeps it English too
    assert texts and all(not any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)
                         for text in texts), texts
    japanese = CustomerClient(service.url, "ja")
    texts = bot_texts(japanese.say("12345"))
    assert texts and all(any("\u3040" <= ch <= "\u30ff" for ch in text) for text in texts), texts
