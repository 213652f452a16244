"""Operations: CLI, migrations, KPIs, /metrics, /healthz; on SQLite and PostgreSQL."""
from __future__ import annotations

from handoff_support import AgentSession, a_day_of_work


def test_cli_creates_agents_with_hashed_passwords(app, runner):
    result = runner.invoke(args=["agents", "create", "--email", "Mio@Shop.example", "--name", "Mio",
                                 "--role", "editor", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["agents", "list"])
    assert "mio@shop.example\tMio\teditor" in listed.output
    duplicate = runner.invoke(args=["agents", "create", "--email", "mio@shop.example", "--name", "Mio",
                                    "--password", "s3cret-pass"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    from sqlalchemy import select
    from handoff.models import Agent
    with app.extensions["tsunagi"].db.reading() as session:
        stored = session.scalar(select(Agent.password_hash))
    assert "s3cret-pass" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    AgentSession(app, "mio@shop.example", "s3cret-pass")


def test_db_upgrade_command_is_idempotent(runner):
    result = runner.invoke(args=["db-upgrade"])
    assert result.exit_code == 0 and "head" in result.output


def test_kpis_and_metrics_after_a_day_of_work(app, client):
    boss, answered, helped, _ = a_day_of_work(app, client)

    kpis = boss.get("/api/admin/kpis").get_json()
    assert kpis["conversations"] == 3
    assert kpis["containment_rate"] == round(1 / 3, 4) and kpis["handoff_rate"] == round(2 / 3, 4)
    assert kpis["handoff_reasons"] == {"complaint": 1, "repeated_fallback": 1}
    assert kpis["fallback_rate"] == 0.5  # 2 fallbacks of 4 bot turns (shipping, complaint, blah, blah blah)
    assert kpis["top_topics"] == [{"topic": "shipping_fee", "title": "送料について", "count": 1}]  # DEFAULT_LANGUAGE ja
    assert kpis["queue_wait_seconds"]["count"] == 1 and kpis["first_response_seconds"]["count"] == 1
    assert kpis["handle_seconds"]["count"] == 1
    assert kpis["csat"] == {"average": 3.5, "count": 2, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
                            "satisfied_rate": 0.5}
    assert kpis["effort"]["average"] == 2.5
    assert [(a["name"], a["claimed"], a["resolved"], a["open"]) for a in kpis["agents"]] == [("Boss", 1, 1, 0)]
    assert len(kpis["per_day"]) == 7 and kpis["per_day"][-1]["date"] == kpis["to"]
    assert kpis["per_day"][-1]["conversations"] == 3 and kpis["per_day"][-1]["handoffs"] == 2
    assert all(day["conversations"] == day["handoffs"] == 0 for day in kpis["per_day"][:-1])
    assert [(r["conversation_id"], r["csat"], r["ces"], r["agent_name"]) for r in kpis["recent_ratings"]] == [
        (helped.id, 2, 4, "Boss"), (answered.id, 5, 1, None)]  # newest first
    assert boss.get("/api/admin/kpis?from=2020-01-01&to=2020-01-31").get_json()["conversations"] == 0
    assert boss.get("/api/admin/kpis?from=yesterday").status_code == 422
    unanswered = boss.get("/api/admin/unanswered").get_json()
    assert sorted(q["text"] for q in unanswered["questions"]) == ["blah", "blah blah"]
    assert (unanswered["from"], unanswered["to"]) == (kpis["from"], kpis["to"])  # the last 7 days, support time zone
    ranged = boss.get("/api/admin/unanswered?from=2020-01-01&to=2020-01-31").get_json()
    assert (ranged["from"], ranged["to"], ranged["questions"]) == ("2020-01-01", "2020-01-31", [])

    metrics = client.get("/metrics")
    assert metrics.mimetype == "text/plain"
    text = metrics.get_data(as_text=True)
    assert "tsunagi_conversations_started_total 3" in text
    assert 'tsunagi_handoffs_total{reason="complaint"} 1' in text
    assert 'tsunagi_topics_answered_total{topic="shipping_fee"} 1' in text
    assert "tsunagi_claim_wait_seconds_count 1" in text
    assert 'tsunagi_conversations{status="waiting"} 1' in text


def test_healthz_reports_each_dependency(client, rasa):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["checks"] == {"database": True, "redis": None, "rasa": True,
                                         "outbox": {"pending": 0, "failed": 0}}
    rasa.stop()
    try:
        degraded = client.get("/healthz").get_json()
        assert degraded["status"] == "degraded" and degraded["checks"]["rasa"] is False  # 200: chat still works
        assert degraded["degraded"] == ["rasa"] and degraded["rasa_servers"] == [{"url": rasa.url, "up": False}]
    finally:
        rasa.start()


def test_sqlite_runs_in_wal_mode(make_app, sqlite_url):
    from sqlalchemy import text

    app = make_app(DATABASE_URL=sqlite_url)
    with app.extensions["tsunagi"].db.reading() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"  # readers never wait on writers
