"""The chat widget in a real browser, against the real handoff service."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from languages import LANGUAGES
from net_proxy import CuttableProxy
from page_objects import JAPANESE, Widget
from service_harness import AgentClient, CustomerClient
from tests.support.waiting import wait_until

QUESTIONS = {"ja": "送料はいくらですか？", "en": "How much is shipping?"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_faq_question_is_answered_in_its_language(service, new_page, rasa, lang):
    page = new_page(locale="ja-JP" if lang == "ja" else "en-US")
    widget = Widget(page).goto(service.url, lang=lang).open()
    expect(widget.input).to_be_focused()

    widget.send(QUESTIONS[lang])
    expect(widget.messages("customer")).to_have_text([QUESTIONS[lang]])
    if not rasa.real:
        expect(widget.typing).to_be_visible()   # the stand-in takes 0.4 s to answer
    answer = widget.messages("bot").first
    expect(answer).to_contain_text("550")
    expect(widget.typing).to_be_hidden()
    text = answer.text_content()
    if lang == "ja":
        assert JAPANESE.search(text), text
    else:
        assert not JAPANESE.search(text), text
        assert re.search(r"\bshipping\b", text, re.I), text


def test_quick_reply_sends_payload_and_shows_title(service, new_page, rasa):
    page = new_page()
    widget = Widget(page).goto(service.url).open()
    widget.send(QUESTIONS["ja"])
    expect(widget.quick_replies).to_have_text(["はい", "いいえ"])

    posted = []
    page.on("request", lambda r: posted.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/messages") else None)
    widget.quick_replies.first.click()
    expect(widget.messages("customer")).to_have_text([QUESTIONS["ja"], "はい"])
    expect(widget.messages("bot")).to_have_count(3)       # answer, "did it help?", and the reply to はい
    if not rasa.real:
        expect(widget.messages("bot").last).to_have_text("よかったです！ほかにご質問があればどうぞ。")
    assert posted[0]["text"] == "/affirm"
    expect(widget.quick_replies).to_have_count(0)

    page.reload()   # the history shows the title, not the payload, after a reload too
    Widget(page).open()
    expect(widget.messages("customer")).to_have_text([QUESTIONS["ja"], "はい"])


def _sent_messages(page):
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json["text"])
            if r.method == "POST" and r.url.endswith("/messages") else None)
    return sent


def test_enter_that_confirms_an_ime_conversion_does_not_send(service, new_page):
    page = new_page()
    widget = Widget(page).goto(service.url).open()
    sent = _sent_messages(page)
    widget.input.click()

    # 1. A real composition through Chromium's IME interface: Enter while it is open confirms it.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "そうりょう", "selectionStart": 5, "selectionEnd": 5})
    cdp.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": "Enter", "code": "Enter",
                                         "windowsVirtualKeyCode": 229, "nativeVirtualKeyCode": 229})
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13})
    cdp.send("Input.insertText", {"text": "送料"})
    expect(widget.input).to_have_value("送料")

    # 2. The compositionstart … compositionend sequence as a page sees it, with Enter inside it,
    #    and Safari's order: compositionend first, then a keydown that still has keyCode 229.
    flags = widget.input.evaluate("""el => {
        const enter = (init) => {
            const e = new KeyboardEvent('keydown', Object.assign({key: 'Enter', code: 'Enter', bubbles: true, cancelable: true, composed: true}, init));
            if (init.keyCode) Object.defineProperty(e, 'keyCode', {get: () => init.keyCode});
            el.dispatchEvent(e);
            return e.defaultPrevented;
        };
        const out = [];
        el.dispatchEvent(new CompositionEvent('compositionstart', {data: '', bubbles: true}));
        out.push(enter({isComposing: true}));
        out.push(enter({isComposing: false}));      // inside the sequence even without the flag
        el.dispatchEvent(new CompositionEvent('compositionend', {data: '送料', bubbles: true}));
        out.push(enter({keyCode: 229}));
        return out;
    }""")
    assert flags == [False, False, False]
    # Nothing sent. A late send would still be caught: it would come before step 3's message,
    # which must be the only one sent and shown.
    assert sent == []
    expect(widget.messages("customer")).to_have_count(0)
    expect(widget.input).to_have_value("送料")

    # 3. A plain Enter after the conversion sends, once.
    widget.input.press("End")
    widget.input.type("はいくら？")
    widget.input.press("Enter")
    expect(widget.messages("customer")).to_have_text(["送料はいくら？"])
    expect(widget.messages("bot").first).to_contain_text("550")
    assert sent == ["送料はいくら？"]
    expect(widget.input).to_have_value("")
    # Shift+Enter is a new line, not a send.
    widget.input.type("一行目")
    widget.input.press("Shift+Enter")
    widget.input.type("二行目")
    expect(widget.input).to_have_value("一行目\n二行目")
    assert sent == ["送料はいくら？"]


def test_reload_and_navigation_restore_the_history(service, new_page):
    page = new_page()
    widget = Widget(page).goto(service.url).open()
    widget.send(QUESTIONS["ja"])
    expect(widget.messages("bot").first).to_contain_text("550")
    widget.send("返品できますか？")
    expect(widget.messages("customer")).to_have_count(2)
    expect(widget.log.locator(".msg[data-seq]")).to_have_count(6)
    before, conversation = widget.all_texts(), widget.conversation_id()

    page.reload()
    widget = Widget(page)
    expect(page.locator("#tsunagi-widget[data-ready]")).to_have_count(1)
    expect(widget.panel).to_be_visible()          # it was open before the reload
    expect(widget.log.locator(".msg[data-seq]")).to_have_count(len(before))
    assert widget.all_texts() == before
    assert widget.conversation_id() == conversation

    # Another page of the shop: same conversation, same history, and it carries on.
    page.locator("a.card").nth(2).click()
    expect(page).to_have_url(re.compile(r"/demo/products/"))
    expect(page.locator("#tsunagi-widget[data-ready]")).to_have_count(1)
    assert widget.all_texts() == before
    widget.open().send("送料について教えて")
    expect(widget.log.locator(".msg[data-seq]")).to_have_count(len(before) + 3)
    assert widget.conversation_id() == conversation
    assert widget.seqs() == sorted(set(widget.seqs()))


def test_dropped_stream_reconnects_and_misses_nothing(service, new_page):
    proxy = CuttableProxy(service.port)
    try:
        page = new_page()
        streams = []
        page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
        widget = Widget(page).goto(proxy.url).open()
        widget.send(QUESTIONS["ja"])
        expect(widget.messages("bot").first).to_contain_text("550")
        widget.host.get_by_role("button", name="担当者と話す").click()
        expect(widget.banner).to_contain_text("担当者におつなぎしています")

        agent = AgentClient(service.url, "yamada")
        assert agent.claim(widget.conversation_id()).status_code == 200
        expect(widget.subtitle).to_have_text("担当：山田 花子")
        agent.reply(widget.conversation_id(), "お待たせしました。山田です。")
        expect(widget.messages("agent")).to_have_text(["お待たせしました。山田です。"])

        proxy.go_down()
        expect(widget.banner).to_contain_text("再接続しています")
        agent.reply(widget.conversation_id(), "ご注文番号を教えていただけますか？")
        agent.reply(widget.conversation_id(), "確認いたします。")
        wait_until(lambda: proxy.refused >= 1, "the widget retried its stream while the server was down",
                   timeout=15)
        proxy.come_back()

        expect(widget.messages("agent")).to_have_text(
            ["お待たせしました。山田です。", "ご注文番号を教えていただけますか？", "確認いたします。"], timeout=20_000)
        expect(widget.banner).to_be_hidden()
        seqs = widget.seqs()
        assert seqs == sorted(set(seqs)), seqs           # nothing twice, in order
        assert any("last_event_id=" in url for url in streams[1:]), streams
    finally:
        proxy.close()


def test_waiting_customer_sees_the_queue_move_live(service, new_page):
    ahead = []
    for question in ("ギフトの名入れはできますか？", "法人でまとめて注文したいです"):
        other = CustomerClient(service.url)
        other.say(question)
        other.ask_for_person()
        ahead.append(other)

    ja = Widget(new_page()).goto(service.url).open()
    ja.send(QUESTIONS["ja"])
    expect(ja.messages("bot").first).to_contain_text("550")
    ja.host.get_by_role("button", name="担当者と話す").click()
    # No agent online yet: the place in line, and no made-up minutes (handoff/agent_queue.py).
    expect(ja.banner).to_have_text("担当者におつなぎしています：あと2人")
    expect(ja.banner).to_have_attribute("role", "status")

    en = Widget(new_page(locale="en-US")).goto(service.url, lang="en").open()
    en.host.get_by_role("button", name="Talk to a person").click()
    expect(en.banner).to_have_text("Connecting you to a person: 3 ahead of you")

    # Yamada claims one, so she is online and the queue has been served: an estimate from then on.
    agent = AgentClient(service.url, "yamada")
    assert agent.claim(ahead[0].id).status_code == 200
    expect(ja.banner).to_have_text(re.compile(r"^担当者におつなぎしています：あと1人、約\d+分$"))
    expect(en.banner).to_have_text(re.compile(r"^Connecting you to a person: 2 ahead of you, about \d+ minutes?$"))
    assert agent.claim(ahead[1].id).status_code == 200
    expect(ja.banner).to_have_text("担当者におつなぎしています：まもなくおつなぎします")
    assert AgentClient(service.url, "smith").claim(ja.conversation_id()).status_code == 200
    expect(ja.banner).to_be_hidden()
    expect(ja.subtitle).to_have_text("担当：Emily Smith")
    expect(ja.messages("agent")).to_have_count(0)
    expect(ja.log.locator(".msg.system").last).to_contain_text("Emily Smith")
    expect(en.banner).to_have_text("Connecting you to a person: you are next")


def test_outside_hours_the_customer_leaves_a_message(start_service, new_page):
    service = start_service(SUPPORT_HOURS="never")
    widget = Widget(new_page()).goto(service.url).open()
    widget.host.get_by_role("button", name="担当者と話す").click()
    form = widget.card
    expect(form.get_by_role("heading")).to_have_text("ただいま営業時間外です")
    expect(form.get_by_role("heading")).to_be_focused()
    expect(widget.input).to_be_hidden()
    # Nothing sends e-mail yet: the reply is promised here, in this chat.
    expect(form).to_contain_text("営業時間になりしだい担当者がこのチャットでお返事します")

    form.get_by_label("メールアドレス").fill("not-an-address")
    form.get_by_label("お問い合わせ内容").fill("割れた器の交換をお願いしたいです。")
    form.get_by_role("button", name="送信する").click()
    expect(form.get_by_role("alert")).to_have_text("メールアドレスを正しく入力してください")
    form.get_by_label("メールアドレス").fill("hanako@example.jp")
    form.get_by_role("button", name="送信する").click()
    expect(widget.card).to_contain_text("メッセージを受け付けました")
    expect(widget.card).to_contain_text("このチャットでお返事します")
    expect(widget.card).not_to_contain_text("メールで")

    tickets = AgentClient(service.url, "yamada").get("/queue")["queue"]
    assert [(t["offline"], t["email"]) for t in tickets] == [(True, "hanako@example.jp")]
    expect(widget.messages("customer")).to_have_text(["割れた器の交換をお願いしたいです。"])


def test_markup_in_messages_is_shown_as_text_in_widget_and_console(service, new_page):
    from page_objects import Console

    markup = "<img src=x onerror=alert(1)>"
    customer = new_page()
    widget = Widget(customer).goto(service.url).open()
    widget.send(markup)
    expect(widget.messages("customer")).to_have_text([markup])
    widget.host.get_by_role("button", name="担当者と話す").click()
    expect(widget.banner).to_be_visible()

    agent_page = new_page()
    console = Console(agent_page, service.url).login("yamada")
    item = console.queue_item(markup)
    expect(item.locator(".qi-question")).to_have_text(markup)
    item.get_by_role("button", name=re.compile("対応する")).click()
    expect(console.transcript().locator(".tm-customer .tm-bubble")).to_have_text([markup])
    panel = console.panel()
    panel.locator(".reply-text").fill("<b>太字</b> " + markup)
    panel.locator(".reply-text").press("Enter")
    # One write at a time: the reply has landed before the note is added.
    expect(console.transcript().locator(".tm-agent")).to_have_count(1)
    panel.locator(".note-text").fill(markup)
    with agent_page.expect_response(lambda r: r.url.endswith("/notes") and r.request.method == "POST") as posted:
        panel.get_by_role("button", name="メモを追加").click()
    assert posted.value.status == 201, posted.value.text()
    expect(panel.locator(".notes .note-text")).to_have_text([markup])
    expect(widget.messages("agent")).to_have_text(["<b>太字</b> " + markup])

    # The expectations above waited until both pages showed the markup: an element made of it
    # would be there now.
    assert widget.log.locator("img, b").count() == 0
    assert agent_page.locator("#panels img, #queue img, #panels b.tm-bubble, .tm-bubble b").count() == 0
    assert customer.dialogs == [] and agent_page.dialogs == []


def test_keyboard_only_at_phone_width(service, new_page):
    page = new_page(width=360, height=740, is_mobile=True, has_touch=True)
    widget = Widget(page).goto(service.url)
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.launcher).to_have_accessible_name("チャットで問い合わせる")
    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.panel).to_have_attribute("role", "dialog")
    expect(widget.panel).to_have_accessible_name(re.compile("こもれびストア"))
    expect(widget.log).to_have_attribute("aria-live", "polite")
    box = widget.panel.bounding_box()
    assert box["x"] == 0 and box["width"] == 360, box
    expect(widget.input).to_be_focused()

    page.keyboard.type("送料はいくらですか？")
    page.keyboard.press("Enter")
    expect(widget.quick_replies).to_have_count(2)
    widget.quick_replies.first.focus()
    page.keyboard.press("Enter")
    expect(widget.messages("customer").last).to_have_text("はい")

    # End the chat and rate it with the keyboard alone.
    widget.host.get_by_role("button", name="チャットを終了").focus()
    page.keyboard.press("Enter")
    expect(widget.host.get_by_role("button", name="終了する")).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.card.get_by_role("heading")).to_be_focused()
    page.keyboard.press("Tab")
    expect(widget.host.locator("#tsunagi-csat-1")).to_be_focused()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(widget.host.locator("#tsunagi-csat-5")).to_be_checked()
    expect(widget.host.locator(".stars label.on")).to_have_count(5)
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")
    expect(widget.host.locator("#tsunagi-ces-2")).to_be_checked()
    widget.host.get_by_role("button", name="評価を送信").focus()
    page.keyboard.press("Enter")
    expect(widget.card).to_contain_text("ご評価ありがとうございました")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()


SHOP_PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>Another shop</title>
<style>
  * { color: #f0f !important; font-size: 40px !important; font-family: serif !important; }
  button { display: none !important; }
  div, section, body > * { background: yellow !important; border: 5px dashed red !important; margin: 30px !important; }
</style></head><body><h1>Another shop</h1>
<script src="{server}/widget.js" data-server="{server}" data-lang="ja" data-color="#8a3b2e" data-title="うつわ屋"></script>
</body></html>"""


def test_one_script_tag_embeds_it_on_another_site_whose_css_cannot_reach_it(start_service, shop, new_page):
    service = start_service(CORS_ORIGINS=shop.origin)
    shop.pages["/"] = SHOP_PAGE.replace("{server}", service.url)
    page = new_page()
    page.goto(shop.origin + "/")
    widget = Widget(page)
    expect(page.locator("#tsunagi-widget[data-ready]")).to_have_count(1)
    expect(widget.launcher).to_be_visible()
    host = widget.host.evaluate("h => { const s = getComputedStyle(h); return [s.backgroundColor, s.borderTopStyle, s.position, s.fontSize]; }")
    assert host == ["rgba(0, 0, 0, 0)", "none", "fixed", "15px"], host
    styles = widget.launcher.evaluate("b => { const s = getComputedStyle(b); return [s.fontSize, s.backgroundColor, s.color]; }")
    assert styles == ["15px", "rgb(138, 59, 46)", "rgb(255, 255, 255)"], styles
    widget.open()
    expect(widget.host.locator("h2")).to_have_text("うつわ屋")
    widget.send("送料はいくらですか？")
    expect(widget.messages("bot").first).to_contain_text("550")
    assert widget.messages("bot").first.evaluate("b => getComputedStyle(b).fontSize") == "15px"
    assert page.evaluate("localStorage.length") == 1      # the conversation is kept on the shop's origin
