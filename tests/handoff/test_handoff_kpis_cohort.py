"""The dashboard's figures are about one cohort (issue 14): the conversations started in the range,
followed to their outcome, so no rate can leave 0-100% however the range cuts through them; and top
topics are named by their title in the dashboard's language.

The history is scripted: metric_events rows (and the rated conversations' rows) at times the test
sets, around the edges of one day in the support time zone (Asia/Tokyo).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.models import Conversation, MetricEvent

from handoff_support import AgentSession, add_agent

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 2)  # the range: this one day, Tokyo time


def at(days: int, clock: str) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(DAY + timedelta(days=days), datetime.min.time(), TOKYO).replace(hour=hours, minute=minutes)


def script(app, rows, rated=()):
    """rows: (conversation, name, when, label, value, agent id); rated: (conversation, csat, when)."""
    with app.extensions["tsunagi"].db.writing() as session:
        for conversation_id, name, when, label, value, agent_id in rows:
            session.add(MetricEvent(name=name, at=when, conversation_id=conversation_id, label=label, value=value,
                                    agent_id=agent_id))
        for conversation_id, csat, when in rated:
            session.add(Conversation(id=conversation_id, status="resolved", language="ja", created_at=when,
                                     updated_at=when, csat=csat, rated_at=when))


def kpis(boss: AgentSession, first: date, last: date, lang: str = "ja") -> dict:
    response = boss.get(f"/api/admin/kpis?from={first}&to={last}&lang={lang}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_rates_follow_the_conversations_started_in_the_range_across_its_edges(app):
    boss_id = add_agent(app, "boss@shop.example", role="admin", name="Boss")
    boss = AgentSession(app, "boss@shop.example")
    script(app, [
        # before: started the evening before, handed off just after midnight (inside the range)
        ("before", "conversation_started", at(-1, "23:50"), None, None, None),
        ("before", "fallback", at(-1, "23:51"), "nlu_fallback", None, None),
        ("before", "fallback", at(0, "00:05"), "nlu_fallback", None, None),
        ("before", "handoff", at(0, "00:05"), "repeated_fallback", None, None),
        ("before", "claimed", at(0, "00:30"), None, 1500.0, boss_id),
        # late: started inside, handed off after the range's end
        ("late", "conversation_started", at(0, "23:50"), None, None, None),
        ("late", "topic_answered", at(0, "23:51"), "shipping_fee", None, None),
        ("late", "handoff", at(1, "00:20"), "not_helpful", None, None),
        ("late", "claimed", at(1, "00:21"), None, 60.0, boss_id),
        # answered: started inside, the bot answered, no handoff
        ("answered", "conversation_started", at(0, "12:00"), None, None, None),
        ("answered", "topic_answered", at(0, "12:01"), "shipping_fee", None, None),
        ("answered", "topic_answered", at(0, "12:02"), "returns_policy", None, None),
        # helped: started, handed off, claimed, resolved, rated inside
        ("helped", "conversation_started", at(0, "13:00"), None, None, None),
        ("helped", "handoff", at(0, "13:01"), "complaint", None, None),
        ("helped", "claimed", at(0, "13:03"), None, 120.0, boss_id),
        ("helped", "resolved", at(0, "13:20"), "agent", 1020.0, boss_id),
        ("helped", "rated", at(0, "13:21"), "csat", 5, None),
        # next day: started and contained the day after the range
        ("next", "conversation_started", at(1, "09:00"), None, None, None),
        ("next", "topic_answered", at(1, "09:01"), "order_status", None, None),
    ], rated=[("helped", 5, at(0, "13:21")), ("before", 1, at(0, "01:00"))])

    day = kpis(boss, DAY, DAY)
    assert day["conversations"] == 3                       # late, answered, helped; not "before"
    assert day["handoffs"] == 2 and day["handoff_reasons"] == {"not_helpful": 1, "complaint": 1}
    assert day["handoff_rate"] == round(2 / 3, 4) and day["containment_rate"] == round(1 / 3, 4)
    assert day["fallback_rate"] == 0.0                     # "before"'s fallbacks are not this cohort's
    assert day["queue_wait_seconds"]["count"] == 2         # late (claimed after the end) and helped
    assert day["queue_wait_seconds"]["p90"] == 120.0
    assert [(r["conversation_id"], r["csat"]) for r in day["recent_ratings"]] == [("helped", 5)]
    assert day["csat"]["count"] == 1 and day["csat"]["satisfied_rate"] == 1.0
    assert day["per_day"] == [{"date": "2026-11-02", "conversations": 3, "handoffs": 2}]
    assert [(a["name"], a["claimed"], a["resolved"]) for a in day["agents"]] == [("Boss", 2, 1)]

    # The next day alone: "late" handed off then, but started the day before: the one conversation
    # started that day was contained. Counting handoffs made in the range would say 0%.
    next_day = kpis(boss, DAY + timedelta(days=1), DAY + timedelta(days=1))
    assert next_day["conversations"] == 1 and next_day["handoffs"] == 0
    assert next_day["containment_rate"] == 1.0 and next_day["handoff_rate"] == 0.0

    # The day before: "before" started then and was handed off the next day; still its cohort's.
    before = kpis(boss, DAY - timedelta(days=1), DAY - timedelta(days=1))
    assert before["conversations"] == 1 and before["handoff_rate"] == 1.0 and before["containment_rate"] == 0.0
    assert before["fallback_rate"] == 1.0 and before["queue_wait_seconds"]["p50"] == 1500.0

    # Every rate of every range stays a share of its cohort.
    for first in range(-2, 2):
        for length in range(0, 3):
            figures = kpis(boss, DAY + timedelta(days=first), DAY + timedelta(days=first + length))
            for rate in (figures["containment_rate"], figures["handoff_rate"], figures["fallback_rate"],
                         figures["csat"]["satisfied_rate"]):
                assert rate is None or 0.0 <= rate <= 1.0, (first, length, figures)


def test_top_topics_are_named_by_their_title_in_the_dashboards_language(app):
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    boss = AgentSession(app, "boss@shop.example")
    script(app, [
        ("c1", "conversation_started", at(0, "10:00"), None, None, None),
        ("c1", "topic_answered", at(0, "10:01"), "shipping_fee", None, None),
        ("c1", "topic_answered", at(0, "10:02"), "shipping_fee", None, None),
        ("c1", "topic_answered", at(0, "10:03"), "returns_policy", None, None),
        ("c1", "topic_answered", at(0, "10:04"), "gift_engraving", None, None),  # no title anywhere
        ("c1", "topic_answered", at(0, "10:05"), "complaint", None, None),       # not a topic
    ])
    ja = kpis(boss, DAY, DAY, "ja")["top_topics"]
    assert ja == [{"topic": "shipping_fee", "title": "送料について", "count": 2},
                  {"topic": "returns_policy", "title": "返品の条件", "count": 1},
                  {"topic": "gift_engraving", "title": "gift_engraving", "count": 1}]
    en = kpis(boss, DAY, DAY, "en")["top_topics"]
    assert [t["title"] for t in en] == ["Shipping fee", "Return policy", "gift_engraving"]

    wrong = boss.get(f"/api/admin/kpis?from={DAY}&to={DAY}&lang=fr")
    assert 400 <= wrong.status_code < 500 and wrong.get_json()["error"]["code"] == "invalid_parameter"
