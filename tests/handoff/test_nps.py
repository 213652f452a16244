"""NPS ("How likely are you to recommend us to a friend?", 0-10, with "why?"), asked after the chat
beside CSAT and effort: validated, once per conversation, only when SURVEYS offers it; the
dashboard's NPS, distribution and trend equal a hand count of a scripted set of ratings."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handoff.config import from_environment
from handoff.database import utcnow
from handoff.kpis import nps_trend
from handoff.models import Conversation, MetricEvent

from handoff_support import AgentSession, Customer, add_agent

TOKYO = ZoneInfo("Asia/Tokyo")


def end(customer: Customer, **rating):
    return customer.post("/end", rating)


@pytest.mark.parametrize("body, code", [
    ({"nps": -1}, "invalid_parameter"), ({"nps": 11}, "invalid_parameter"), ({"nps": 5.5}, "invalid_parameter"),
    ({"nps": "7"}, "invalid_parameter"), ({"nps": True}, "invalid_parameter"),
    ({"nps": 7, "nps_comment": "x" * 2001}, "message_too_long"),
    ({"nps": 7, "nps_comment": "nul\u0000"}, "invalid_parameter"),
])
def test_bad_nps_ratings_are_4xx_json_errors_and_nothing_is_stored(app, client, body, code):
    customer = Customer(client, "en")
    response = end(customer, **body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["message"]
    if code != "invalid_parameter":
        assert error["code"] == code
    with app.extensions["tsunagi"].db.reading() as session:
        conversation = session.get(Conversation, customer.id)
        assert (conversation.nps, conversation.rated_at, conversation.status) == (None, None, "bot")


def test_an_nps_is_given_once_per_conversation_with_its_comment(app, client):
    customer = Customer(client, "ja")
    assert end(customer, csat=5, nps=9, nps_comment="丁寧な対応でした").status_code == 200
    again = end(customer, nps=3)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"
    with app.extensions["tsunagi"].db.reading() as session:
        conversation = session.get(Conversation, customer.id)
        assert (conversation.csat, conversation.nps, conversation.nps_comment) == (5, 9, "丁寧な対応でした")
    # A "why?" without its score is kept as written (nothing the customer wrote is lost).
    why_only = Customer(client, "en")
    assert end(why_only, nps_comment="Hard to say").status_code == 200
    with app.extensions["tsunagi"].db.reading() as session:
        conversation = session.get(Conversation, why_only.id)
        assert (conversation.nps, conversation.nps_comment) == (None, "Hard to say")
    # NPS alone is a rating too: once.
    alone = Customer(client, "en")
    assert end(alone, nps=0).status_code == 200
    assert end(alone, csat=4).status_code == 409
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'tsunagi_ratings_total{scale="nps"} 2.0' in metrics


def test_the_surveys_offered_are_a_setting(make_app):
    app = make_app(SURVEYS=["csat", "ces"])
    client = app.test_client()
    customer = Customer(client, "en")
    assert customer.status()["surveys"] == ["csat", "ces"]
    refused = end(customer, csat=4, nps=10)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "survey_not_offered"
    assert end(customer, csat=4, ces=5).status_code == 200
    default = make_app().test_client().post("/api/v1/conversations", json={"language": "en"}).get_json()
    assert default["surveys"] == ["csat", "ces", "nps"]
    assert from_environment({"SURVEYS": "NPS, csat"})["SURVEYS"] == ["nps", "csat"]
    assert from_environment({"SURVEYS": "none"})["SURVEYS"] == []
    with pytest.raises(ValueError, match="loyalty"):
        from_environment({"SURVEYS": "csat,loyalty"})


# Scores by how many days before today (Tokyo) the conversation started and was rated.
SCRIPT = {0: [10, 9, 6], 1: [8, 7, 3], 3: [0, 10, 10], 5: [9, 2, 9]}
COMMENTS = {(5, 0): "Slow delivery", (1, 2): "Could be faster", (0, 0): "Perfect, thank you"}


def test_the_dashboards_nps_equals_a_hand_count_of_scripted_ratings(app, client):
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    boss = AgentSession(app, "boss@shop.example")
    today = utcnow().astimezone(TOKYO).date()
    # Rated through the customer API (the real recording path), then moved back to their day.
    for days_ago in sorted(SCRIPT, reverse=True):
        for i, score in enumerate(SCRIPT[days_ago]):
            customer = Customer(client, "en")
            rating = {"nps": score}
            if (days_ago, i) in COMMENTS:
                rating["nps_comment"] = COMMENTS[(days_ago, i)]
            assert end(customer, **rating).status_code == 200
            shift = timedelta(days=days_ago)
            with app.extensions["tsunagi"].db.writing() as session:
                for event in session.scalars(select(MetricEvent).where(MetricEvent.conversation_id == customer.id)):
                    event.at -= shift
                conversation = session.get(Conversation, customer.id)
                conversation.rated_at -= shift
    response = boss.get(f"/api/admin/kpis?from={today - timedelta(days=6)}&to={today}")
    assert response.status_code == 200, response.get_json()
    nps = response.get_json()["nps"]

    # By hand: promoters (9-10) 10,9 | 10,10 | 9,9 = 6; detractors (0-6) 6 | 3 | 0 | 2 = 4;
    # passives 8,7 = 2; 12 ratings: (6 - 4) / 12 = 16.7.
    assert (nps["count"], nps["promoters"], nps["passives"], nps["detractors"]) == (12, 6, 2, 4)
    assert nps["score"] == 16.7
    assert nps["distribution"] == {"0": 1, "1": 0, "2": 1, "3": 1, "4": 0, "5": 0, "6": 1, "7": 1, "8": 1,
                                   "9": 3, "10": 3}
    # Per day, oldest first: day -5: 9,2,9 -> (2-1)/3; -3: 0,10,10 -> (2-1)/3; -1: 8,7,3 -> (0-1)/3;
    # today: 10,9,6 -> (2-1)/3; the days without ratings have no score.
    assert nps["trend"]["unit"] == "day"
    assert [(p["start"], p["score"], p["count"]) for p in nps["trend"]["points"]] == [
        (str(today - timedelta(days=6)), None, 0), (str(today - timedelta(days=5)), 33.3, 3),
        (str(today - timedelta(days=4)), None, 0), (str(today - timedelta(days=3)), 33.3, 3),
        (str(today - timedelta(days=2)), None, 0), (str(today - timedelta(days=1)), -33.3, 3),
        (str(today), 33.3, 3)]
    # The comments, newest first, with their scores.
    assert [(c["score"], c["comment"]) for c in nps["comments"]] == [
        (10, "Perfect, thank you"), (3, "Could be faster"), (9, "Slow delivery")]


def test_the_trend_of_a_long_range_is_weekly_from_monday():
    first, last = date(2026, 9, 1), date(2026, 10, 31)  # a Tuesday to a Saturday: 61 days
    rated = [(datetime(2026, 9, 1, 3, tzinfo=TOKYO), 10), (datetime(2026, 9, 6, 20, tzinfo=TOKYO), 0),
             (datetime(2026, 9, 7, 9, tzinfo=TOKYO), 9)]
    trend = nps_trend(rated, first, last, "Asia/Tokyo")
    assert trend["unit"] == "week"
    assert trend["points"][0] == {"start": "2026-08-31", "score": 0.0, "count": 2}  # 10 and 0 in one week
    assert trend["points"][1] == {"start": "2026-09-07", "score": 100.0, "count": 1}
    assert len(trend["points"]) == 9 and trend["points"][-1]["start"] == "2026-10-26"


def test_the_agent_sees_the_nps_given(app, client, agent_factory):
    agent = agent_factory()
    customer = Customer(client, "en")
    customer.send("/request_human")
    assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    assert end(customer, ces=4, nps=8, nps_comment="Quick").status_code == 200
    rating = agent.conversation(customer.id)["rating"]
    assert (rating["ces"], rating["nps"], rating["nps_comment"]) == (4, 8, "Quick")
