"""The agent console and the KPI dashboard, with a customer on the demo shop at the same time."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from page_objects import Console, Widget
from service_harness import AgentClient, CustomerClient

UNANSWERABLE = ["昨日のプロ野球の試合結果を教えて", "おすすめの映画を教えてください"]

# Records desktop notifications and WebAudio tones. The notification still goes to the real
# Notification API (permission granted to the context); this only counts them.
ALERT_RECORDER = """
window.__alerts = {notifications: [], tones: 0};
const RealNotification = window.Notification;
function RecordingNotification(title, options) {
  window.__alerts.notifications.push({title: title, body: options && options.body});
  return new RealNotification(title, options);
}
Object.defineProperty(RecordingNotification, 'permission', {get: () => RealNotification.permission});
RecordingNotification.requestPermission = (...args) => RealNotification.requestPermission(...args);
window.Notification = RecordingNotification;
const realOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.__alerts.tones += 1; return realOscillator.call(this); };
"""


def agent_page(new_page, **options):
    page = new_page(permissions=["notifications"], **options)
    page.add_init_script(ALERT_RECORDER)
    return page


def test_full_handoff_flow(service, new_page, rasa):
    console = Console(agent_page(new_page), service.url).login("yamada")
    expect(console.page.locator("#queue-empty")).to_be_visible()

    # 1. Two questions the bot cannot answer -> handoff.
    customer = new_page()
    widget = Widget(customer).goto(service.url).open()
    widget.send(UNANSWERABLE[0])
    expect(widget.messages("bot")).to_have_count(1)
    widget.send(UNANSWERABLE[1])
    expect(widget.banner).to_contain_text("担当者におつなぎしています")
    expect(widget.subtitle).to_have_text("担当者を呼んでいます")

    # 2. The agent's console shows it live, announced with a sound and a desktop notification.
    item = console.queue_item(UNANSWERABLE[0])
    expect(item).to_be_visible()
    expect(item.locator(".lang")).to_have_text("JA")
    expect(item.locator(".qi-reason")).to_have_text("ボットが回答できず")
    expect(item.locator(".qi-wait")).to_contain_text("待ち時間")
    console.page.wait_for_function("window.__alerts.notifications.length === 1")
    alerts = console.page.evaluate("window.__alerts")
    assert alerts["notifications"][0]["body"] == UNANSWERABLE[0]
    assert alerts["tones"] >= 2

    # The agent claims it and sees the transcript with the bot's intent and confidence per turn.
    item.get_by_role("button", name=re.compile("対応する")).click()
    expect(console.tabs).to_have_count(1)
    panel = console.panel()
    turns = console.transcript().locator(".tm-customer")
    expect(turns).to_have_text([re.compile(re.escape(q)) for q in UNANSWERABLE])
    for i in range(2):
        expect(turns.nth(i).locator(".nlu .intent")).to_contain_text(re.compile(r"\w"))
        expect(turns.nth(i).locator(".nlu .conf")).to_have_text(re.compile(r"^[01]\.\d\d$"))
    if not rasa.real:
        expect(turns.first.locator(".nlu")).to_contain_text("nlu_fallback")
        expect(turns.first.locator(".nlu .conf")).to_have_text("0.31")
    expect(panel.locator(".d-reason")).to_have_text("ボットが回答できず")
    expect(widget.subtitle).to_have_text("担当：山田 花子")

    # Typing is shown to the customer; the reply arrives live.
    reply = panel.locator(".reply-text")
    reply.click()
    reply.type("お待たせしました。担当の山田です")
    expect(widget.typing).to_contain_text("山田 花子が入力中")
    reply.press("Enter")
    expect(widget.messages("agent")).to_have_text(["お待たせしました。担当の山田です"])
    expect(widget.log.locator(".msg.agent .who").last).to_have_text("山田 花子")
    widget.input.type("よろしくお願いします")
    expect(panel.locator(".customer-typing")).to_be_visible()
    widget.input.press("Enter")
    expect(console.transcript().locator(".tm-customer").last).to_contain_text("よろしくお願いします")
    expect(panel.locator(".customer-typing")).to_be_hidden()

    # An internal note never reaches the customer.
    panel.locator(".note-text").fill("野球の質問。FAQに追加を検討")
    panel.get_by_role("button", name="メモを追加").click()
    expect(panel.locator(".notes .note")).to_contain_text("野球の質問。FAQに追加を検討")

    # 3. The agent resolves; the customer rates.
    panel.get_by_role("button", name="解決済みにする").click()
    expect(panel.locator(".badge.status")).to_have_text("解決済み")
    expect(widget.card).to_contain_text("ご利用ありがとうございました")
    assert "FAQに追加" not in widget.panel.text_content()
    widget.host.locator("label[for=tsunagi-csat-4]").click()
    widget.host.locator("label[for=tsunagi-ces-5]").click()
    widget.host.locator("#tsunagi-comment").fill("丁寧に対応していただきました")
    widget.host.get_by_role("button", name="評価を送信").click()
    expect(widget.card).to_contain_text("ご評価ありがとうございました")

    # 4. The dashboard shows the conversation and the rating.
    admin = Console(new_page(), service.url).login("admin")
    admin.page.get_by_role("link", name="ダッシュボード").click()
    expect(admin.page.locator("body[data-loaded]")).to_have_count(1)
    expect(admin.page.locator("#tile-conversations")).to_have_text("1")
    expect(admin.page.locator("#tile-handoff")).to_have_text("100%")
    expect(admin.page.locator("#tile-csat")).to_have_text("4.0 / 5")
    expect(admin.page.locator("#tile-ces")).to_have_text("5.0 / 5")
    csat = admin.page.evaluate("Chart.getChart('chart-csat').data.datasets[0].data")
    assert csat == [0, 0, 0, 1, 0]
    expect(admin.page.locator("#chart-csat")).to_have_attribute("aria-label", re.compile("4★: 1"))
    load = admin.page.evaluate("Chart.getChart('chart-agents').data")
    assert load["labels"] == ["山田 花子"] and load["datasets"][0]["data"] == [1]

    # Another date range: nothing happened back then.
    admin.page.locator("#range-from").fill("2020-01-01")
    admin.page.locator("#range-to").fill("2020-01-31")
    admin.page.get_by_role("button", name="表示").click()
    expect(admin.page.locator("body")).to_have_attribute("data-loaded", "2020-01-01/2020-01-31")
    expect(admin.page.locator("#tile-conversations")).to_have_text("0")
    expect(admin.page.locator("#card-csat .chart-empty")).to_be_visible()


def test_two_agents_race_to_claim(service, new_page):
    waiting = CustomerClient(service.url)
    waiting.say("ギフト用に名入れはできますか？")
    waiting.ask_for_person()

    yamada = Console(agent_page(new_page), service.url).login("yamada")
    smith = Console(agent_page(new_page), service.url).login("smith", lang="en")
    for console in (yamada, smith):
        expect(console.queue_item("ギフト用に名入れ")).to_be_visible()

    # Smith's console misses the live update that would remove the item, as it does when both
    # click within the same moment: the server has to settle the race.
    smith.page.route("**/api/agent/stream", lambda route: route.abort())
    smith.page.route("**/api/agent/queue*", lambda route: route.abort())
    yamada.queue_item("ギフト用に名入れ").get_by_role("button", name=re.compile("対応する")).click()
    expect(yamada.tabs).to_have_count(1)

    claim = smith.queue_item("ギフト用に名入れ").get_by_role("button", name=re.compile("Claim"))
    with smith.page.expect_response("**/claim") as answer:
        claim.click()
    assert answer.value.status == 409
    expect(smith.queue_item("ギフト用に名入れ").locator(".qi-taken")).to_have_text(
        "Another agent has already taken this conversation.")
    expect(smith.page.locator("#toasts")).to_contain_text("Another agent has already taken this conversation.")
    expect(smith.tabs).to_have_count(0)


def test_transfer_and_hand_back_to_the_bot(service, new_page):
    customer = new_page()
    widget = Widget(customer).goto(service.url).open()
    widget.send("送料はいくらですか？")
    expect(widget.messages("bot").first).to_contain_text("550")
    widget.host.get_by_role("button", name="担当者と話す").click()
    expect(widget.banner).to_be_visible()

    yamada = Console(agent_page(new_page), service.url).login("yamada")
    smith = Console(agent_page(new_page), service.url).login("smith", lang="en")
    yamada.queue_item("送料はいくらですか").get_by_role("button", name=re.compile("対応する")).click()
    panel = yamada.panel()
    panel.locator(".transfer-select").select_option(label="Emily Smith (agent)")
    panel.get_by_role("button", name="転送").click()
    expect(panel.locator(".reply-text")).to_be_disabled()

    # Smith gets it in "My conversations", opens it and hands it back to the bot.
    mine = smith.page.locator("#mine .mine-item", has_text="送料はいくらですか")
    expect(mine).to_be_visible()
    mine.click()
    expect(widget.subtitle).to_have_text("担当：Emily Smith")
    smith.panel().get_by_role("button", name="Hand back to bot").click()
    expect(smith.panel().locator(".badge.status")).to_have_text("Bot")
    expect(widget.subtitle).to_have_text("AIアシスタントが24時間お答えします")
    widget.send("返品できますか？")
    expect(widget.messages("bot").last).to_have_text(re.compile("お役に立ちましたか|？|\\?"))


def test_canned_replies_edited_by_admin_are_offered_per_language(service, new_page):
    admin = Console(new_page(), service.url).login("admin")
    admin.page.get_by_role("button", name="定型文の管理").click()
    dialog = admin.page.locator("#canned-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#canned-language").select_option("ja")
    dialog.locator("#canned-title").fill("お詫び（配送遅延）")
    dialog.locator("#canned-text").fill("お届けが遅れており、誠に申し訳ございません。")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog.locator(".canned-row")).to_have_count(1)
    dialog.locator("#canned-language").select_option("en")
    dialog.locator("#canned-title").fill("Apology (delay)")
    dialog.locator("#canned-text").fill("We are very sorry your parcel is late.")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog.locator(".canned-row")).to_have_count(2)
    dialog.get_by_role("button", name="閉じる").click()

    waiting = CustomerClient(service.url)
    waiting.say("荷物がまだ届きません")
    waiting.ask_for_person()
    agent = Console(new_page(), service.url).login("yamada")
    agent.queue_item("荷物がまだ届きません").get_by_role("button", name=re.compile("対応する")).click()
    canned = agent.panel().locator(".canned-select")
    expect(canned.locator("option")).to_have_text(["定型文を挿入…", "お詫び（配送遅延）"])   # Japanese only
    canned.select_option(label="お詫び（配送遅延）")
    expect(agent.panel().locator(".reply-text")).to_have_value("お届けが遅れており、誠に申し訳ございません。")


def test_login_rejects_a_wrong_password_and_the_dashboard_is_for_admins(service, new_page):
    page = new_page()
    page.goto(service.url + "/console")
    assert page.locator("#login-csrf").input_value()
    page.locator("#login-email").fill("yamada@komorebi.example")
    page.locator("#login-password").fill("wrong password")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-error")).to_have_text("メールアドレスまたはパスワードが正しくありません。")
    expect(page.locator("#app-view")).to_be_hidden()

    Console(page, service.url).login("yamada")
    expect(page.get_by_role("link", name="ダッシュボード")).to_be_hidden()
    response = page.goto(service.url + "/console/dashboard")
    assert response.status == 403
    expect(page.locator("#forbidden")).to_contain_text("管理者のみ")


def test_editor_sees_the_questions_the_bot_did_not_understand(service, new_page):
    customer = CustomerClient(service.url)
    for question in UNANSWERABLE:
        customer.say(question)
    CustomerClient(service.url, "en").say("Do you have a shop in Osaka?")

    page = new_page()
    editor = Console(page, service.url).login("kimura")
    expect(page.get_by_role("link", name="ダッシュボード")).to_be_hidden()
    page.get_by_role("link", name="未回答の質問").click()
    expect(page.locator("body[data-loaded]")).to_have_count(1)
    rows = page.locator("#unanswered-body tr")
    expect(rows.locator(".question")).to_have_text(
        ["Do you have a shop in Osaka?", UNANSWERABLE[1], UNANSWERABLE[0]])   # newest first
    expect(rows.first.locator(".nlu").first).to_contain_text("nlu_fallback")
    page.locator("#filter-language").select_option("en")
    page.get_by_role("button", name="表示").click()
    expect(rows.locator(".question")).to_have_text(["Do you have a shop in Osaka?"])
    assert editor.page.goto(service.url + "/console/dashboard").status == 403

    agent = Console(new_page(), service.url).login("yamada")
    expect(agent.page.get_by_role("link", name="未回答の質問")).to_be_hidden()
    assert agent.page.goto(service.url + "/console/unanswered").status == 403


def test_several_conversations_open_at_once_in_tabs(service, new_page):
    customers = {}
    for question in ("送料はいくらですか？", "How much is shipping?"):
        customer = CustomerClient(service.url, "en" if question.isascii() else "ja")
        customer.say(question)
        customer.ask_for_person()
        customers[question] = customer

    console = Console(new_page(), service.url).login("yamada")
    for question in customers:
        console.queue_item(question).get_by_role("button", name=re.compile("対応する")).click()
    expect(console.tabs).to_have_count(2, timeout=15000)  # opening a tab fetches the transcript
    expect(console.tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(console.transcript().locator(".tm-customer").first).to_contain_text("How much is shipping?")
    expect(console.page.locator("#mine .mine-item")).to_have_count(2)

    console.tabs.nth(1).focus()
    console.page.keyboard.press("ArrowLeft")           # tabs follow the ARIA tabs pattern
    expect(console.tabs.nth(0)).to_be_focused()
    expect(console.tabs.nth(0)).to_have_attribute("aria-selected", "true")
    expect(console.transcript().locator(".tm-customer").first).to_contain_text("送料はいくらですか？")
    console.panel().locator(".reply-text").fill("日本語のお客様への返信です")
    console.panel().get_by_role("button", name="送信").click()
    expect(console.transcript().locator(".tm-agent")).to_have_count(1)

    def agent_texts(customer):
        response = customer.http.get(f"{service.url}/api/v1/conversations/{customer.id}/messages", timeout=10)
        return [m["text"] for m in response.json()["messages"] if m["sender"] == "agent"]

    assert agent_texts(customers["送料はいくらですか？"]) == ["日本語のお客様への返信です"]
    assert agent_texts(customers["How much is shipping?"]) == []
