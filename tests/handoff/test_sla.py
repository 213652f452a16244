"""SLA clocks (handoff/sla.py): first-response and resolution targets per priority, counted in
support hours only (SUPPORT_HOURS, SUPPORT_CLOSED_DATES, SUPPORT_HOLIDAYS). A test clock crosses
each target inside support hours, across a night and a weekend, and over a holiday; then the same
through the agent API, with the service's own clock replaced by the test's."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from handoff import create_app
from handoff.database import utcnow
from handoff.models import Conversation
from handoff.sla import SlaPolicy, parse_targets
from support_hours import SupportHours

from handoff_support import AgentSession, Customer, add_agent

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO).astimezone(timezone.utc)


def policy(holidays: str = "", clock=None) -> SlaPolicy:
    hours = SupportHours.parse("Mon-Fri 10:00-18:00", "Asia/Tokyo", "12-29,12-30,12-31,01-01,01-02,01-03", holidays)
    return SlaPolicy(hours, parse_targets("high=5m,normal=15m", "SLA_FIRST_RESPONSE"),
                     parse_targets("high=2h,normal=8h", "SLA_RESOLUTION"), clock or (lambda: tokyo(7, 10)))


def conversation(queued_at, priority="normal", first_reply_at=None, resolved_at=None, status="waiting"):
    return SimpleNamespace(queued_at=queued_at, priority=priority, first_reply_at=first_reply_at,
                           resolved_at=resolved_at, status=status)


def test_targets_parse_with_units_and_refuse_nonsense():
    assert parse_targets("high=5m, normal=15m,low=2h", "X") == {"high": 300, "normal": 900, "low": 7200}
    assert parse_targets("normal=90s,high=1d", "X") == {"normal": 90, "high": 86400}
    assert parse_targets("", "X") == {}
    for bad in ("high=5", "high=5y", "high=-5m", "high=0m", "=5m", "high:5m"):
        with pytest.raises(ValueError, match="SLA_FIRST_RESPONSE"):
            parse_targets(bad, "SLA_FIRST_RESPONSE")


def test_a_clock_inside_support_hours_crosses_its_target():
    sla = policy()
    waiting = conversation(tokyo(7, 10, 0))  # Monday 10:00
    before = sla.status(waiting, now=tokyo(7, 10, 14))["first_response"]
    assert before["seconds_left"] == 60 and before["running"] and not before["breached"]
    assert before["due_at"] == "2026-12-07T01:15:00Z"  # 10:15 in Tokyo
    after = sla.status(waiting, now=tokyo(7, 10, 16))
    assert after["first_response"]["seconds_left"] == -60 and after["first_response"]["breached"]
    assert after["breached"]
    # A high-priority conversation has the shorter target.
    urgent = sla.status(conversation(tokyo(7, 10, 0), "high"), now=tokyo(7, 10, 6))["first_response"]
    assert urgent["target_seconds"] == 300 and urgent["breached"]


def test_the_clock_stops_outside_support_hours_over_a_night_and_a_weekend():
    sla = policy()
    friday_evening = conversation(tokyo(4, 17, 55))  # Friday 17:55: five minutes before closing
    saturday = sla.status(friday_evening, now=tokyo(5, 12, 0))["first_response"]
    assert saturday["seconds_left"] == 600 and not saturday["running"] and not saturday["breached"]
    assert saturday["due_at"] == "2026-12-07T01:10:00Z"  # Monday 10:10
    assert sla.status(friday_evening, now=tokyo(7, 10, 9))["first_response"]["seconds_left"] == 60
    assert sla.status(friday_evening, now=tokyo(7, 10, 11))["first_response"]["breached"]
    # Opened at night: the clock starts when support opens.
    night = conversation(tokyo(7, 23, 30))
    assert sla.status(night, now=tokyo(8, 9, 59))["first_response"]["seconds_left"] == 900
    assert sla.status(night, now=tokyo(8, 10, 16))["first_response"]["breached"]


def test_a_holiday_does_not_count_and_neither_do_the_yearly_closed_days():
    sla = policy(holidays="2026-12-09")
    tuesday_evening = conversation(tokyo(8, 17, 55))
    on_the_holiday = sla.status(tuesday_evening, now=tokyo(9, 15, 0))["first_response"]
    assert on_the_holiday["seconds_left"] == 600 and not on_the_holiday["running"]
    assert on_the_holiday["due_at"] == "2026-12-10T01:10:00Z"  # Thursday 10:10, not Wednesday
    assert not sla.status(tuesday_evening, now=tokyo(10, 10, 9))["first_response"]["breached"]
    assert sla.status(tuesday_evening, now=tokyo(10, 10, 11))["first_response"]["breached"]
    # Without the holiday the same conversation is late on Wednesday morning.
    assert policy().status(tuesday_evening, now=tokyo(9, 10, 11))["first_response"]["breached"]
    # 12-29 to 01-03 are closed every year: a ticket of Monday 12-28 17:55 is due on Monday 01-04 10:10.
    year_end = policy().status(conversation(tokyo(28, 17, 55)), now=tokyo(2, 12, 0, month=1, year=2027))
    assert year_end["first_response"]["due_at"] == "2027-01-04T01:10:00Z"
    assert year_end["first_response"]["seconds_left"] == 600


def test_a_reply_stops_the_first_response_clock_and_a_resolve_the_resolution_clock():
    sla = policy()
    answered = conversation(tokyo(7, 10, 0), first_reply_at=tokyo(7, 10, 10), status="assigned")
    state = sla.status(answered, now=tokyo(7, 17, 0))
    assert state["first_response"]["met"] and state["first_response"]["stopped"]
    assert state["first_response"]["seconds_left"] == 300
    assert state["resolution"]["seconds_left"] == 3600 and state["resolution"]["running"]  # 7 of 8 hours used
    late = sla.status(answered, now=tokyo(8, 10, 1))["resolution"]  # Monday 10-18, Tuesday 10:00-10:01
    assert late["breached"] and late["seconds_left"] == -60
    resolved = conversation(tokyo(7, 10, 0), first_reply_at=tokyo(7, 10, 20), resolved_at=tokyo(7, 12, 0),
                            status="resolved")
    state = sla.status(resolved, now=tokyo(20, 12, 0))
    assert state["first_response"]["breached"] and not state["first_response"]["met"]
    assert state["resolution"]["met"] and not state["resolution"]["running"]
    # Ended before any reply: that clock stops too, and cannot count as met.
    abandoned = conversation(tokyo(7, 10, 0), resolved_at=tokyo(7, 10, 5), status="resolved")
    assert not sla.status(abandoned, now=tokyo(9, 10, 0))["first_response"]["met"]
    assert not sla.status(abandoned, now=tokyo(9, 10, 0))["first_response"]["breached"]
    # The bot's conversations have no clock; a priority without a target has none either.
    assert sla.status(conversation(None, status="bot")) is None
    assert sla.status(conversation(tokyo(7, 10), priority="low"), now=tokyo(7, 11))["first_response"] is None


def test_the_queue_and_the_console_show_the_clock_of_the_service_test_clock(make_app):
    now = [tokyo(7, 10, 0)]
    app = make_app(SUPPORT_HOURS="Mon-Fri 10:00-18:00", SLA_FIRST_RESPONSE="normal=15m,high=5m")
    services = app.extensions["tsunagi"]
    services.sla.clock = lambda: now[0]  # the injectable clock
    add_agent(app, "aiko@shop.example")
    agent = AgentSession(app, "aiko@shop.example")
    customer = Customer(app.test_client())
    assert customer.post("/handoff", {"reason": "request_human"}).status_code == 200
    with services.db.writing() as session:  # the handoff happened at the test clock's time
        session.execute(update(Conversation).where(Conversation.id == customer.id).values(queued_at=now[0]))
    item = agent.get("/api/agent/queue").get_json()["queue"][0]
    assert item["sla"]["first_response"]["seconds_left"] == 900 and not item["sla"]["breached"]
    now[0] = tokyo(7, 10, 16)
    item = agent.get("/api/agent/queue").get_json()["queue"][0]
    assert item["sla"]["breached"] and item["sla"]["first_response"]["seconds_left"] == -60
    detail = agent.conversation(customer.id)
    assert detail["sla"]["first_response"]["breached"]


def test_malformed_sla_and_holiday_settings_stop_the_service_at_start(tmp_path):
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "SECRET_KEY": "x", "TESTING": True}
    with pytest.raises(ValueError, match="SLA_RESOLUTION"):
        create_app({**base, "SLA_RESOLUTION": "normal=soon"})
    with pytest.raises(ValueError, match="SUPPORT_HOLIDAYS"):
        create_app({**base, "SUPPORT_HOLIDAYS": ["2026-13-01"]})


def test_the_dashboard_shows_attainment_per_agent_and_per_day_equal_to_a_hand_count(make_app):
    app = make_app(SLA_FIRST_RESPONSE="normal=15m", SLA_RESOLUTION="normal=1h")  # SUPPORT_HOURS=always
    services = app.extensions["tsunagi"]
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    add_agent(app, "aiko@shop.example", name="Aiko")
    boss, aiko = AgentSession(app, "boss@shop.example"), AgentSession(app, "aiko@shop.example")
    client = app.test_client()
    late, quick, waiting = Customer(client), Customer(client), Customer(client)
    for customer, minutes_ago in ((late, 30), (quick, 5), (waiting, 20)):
        assert customer.post("/handoff", {"reason": "request_human"}).get_json()["status"] == "waiting"
        with services.db.writing() as session:
            session.execute(update(Conversation).where(Conversation.id == customer.id)
                            .values(queued_at=utcnow() - timedelta(minutes=minutes_ago)))
    for agent, customer in ((boss, late), (aiko, quick)):
        assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
        assert agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Hello"}).status_code == 201
    assert aiko.post(f"/api/agent/conversations/{quick.id}/resolve").status_code == 200
    assert aiko.post("/api/agent/presence", {"state": "away"}).status_code == 200

    sla = boss.get("/api/admin/kpis").get_json()["sla"]
    # By hand: first replies: quick met (5 min), late breached (30 min), waiting breached (20 min, no
    # reply yet). Resolutions: quick met; late and waiting still inside their hour (pending).
    assert sla["first_response"] == {"met": 1, "breached": 2, "pending": 0, "rate": 0.3333}
    assert sla["resolution"] == {"met": 1, "breached": 0, "pending": 2, "rate": 1.0}
    agents = {a["name"]: a for a in sla["per_agent"]}
    assert agents["Boss"]["first_response"] == {"met": 0, "breached": 1, "pending": 0, "rate": 0.0}
    assert agents["Aiko"]["first_response"] == {"met": 1, "breached": 0, "pending": 0, "rate": 1.0}
    assert agents["Aiko"]["resolution"]["met"] == 1 and agents["Boss"]["resolution"]["pending"] == 1
    assert agents["Boss"]["presence"] == "online" and agents["Aiko"]["presence"] == "away"
    today = [day for day in sla["per_day"] if day["first_response"]["met"] + day["first_response"]["breached"]]
    assert len(today) == 1 and today[0]["first_response"] == sla["first_response"]
    assert sla["targets"] == {"first_response": {"normal": 900}, "resolution": {"normal": 3600}}


def test_a_holiday_is_closed_for_the_bot_and_the_offline_tickets_too():
    hours = SupportHours.parse("Mon-Fri 10:00-18:00", "Asia/Tokyo", "", "2026-12-09")
    assert not hours.is_open(tokyo(9, 12, 0))  # Wednesday, a holiday
    assert hours.is_open(tokyo(10, 12, 0)) and hours.is_open(tokyo(8, 12, 0))
    assert hours.open_intervals(tokyo(9, 12).astimezone(TOKYO).date()) == []
    assert SupportHours.from_env({"SUPPORT_HOLIDAYS": "2026-12-09,2027-01-11"}).holidays == {"2026-12-09", "2027-01-11"}
    # `always` (a 24h shop) has no closed days at all.
    assert SupportHours.parse("always", "Asia/Tokyo", "", "2026-12-09").is_open(tokyo(9, 12, 0))
