"""The KPI dashboard's figures, computed from metric_events for the conversations started in a date
range (support time zone), each followed to its outcome."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from intents import NOT_TOPICS
from .listeners.metrics_listener import OFFLINE_CLAIM
from .models import Agent, Conversation, HelpArticleView, HelpSearch, HelpVisit, HelpVote, MetricEvent
from .transcript import iso


def percentile(values: list[float], share: float) -> Optional[float]:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return round(ordered[rank - 1], 1)


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> Optional[float]:
    return round(sum(values) / len(values), 2) if values else None


def day_range(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    return (datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone))


def dashboard(session, first: date, last: date, timezone: str, titles: Optional[dict[str, dict]] = None,
              language: str = "en", help_origin: Optional[str] = None) -> dict[str, Any]:
    """Every figure is about one cohort: the conversations started in the range, followed to their
    outcome whenever it came (handed off or not, waited, answered, resolved, rated), so each rate
    is a share of one set and stays between 0 and 1. A conversation started before the range is
    not in it, even if it was handed off inside; one started inside counts its handoff after the end.

    titles: topic id -> {language: title} (data/topics); top topics are named in `language`.
    help_origin: the help center's scheme://host, whose pages' chats count as opened from it."""
    start, end = day_range(first, last, timezone)
    cohort = (select(MetricEvent.conversation_id)
              .where(MetricEvent.name == "conversation_started", MetricEvent.at >= start, MetricEvent.at < end)
              .scalar_subquery())
    # An outcome never precedes the start, so `at >= start` lets the (name, at) index narrow the scan.
    rows = session.execute(select(MetricEvent.name, MetricEvent.label, MetricEvent.value, MetricEvent.agent_id,
                                  MetricEvent.conversation_id, MetricEvent.at)
                           .where(MetricEvent.at >= start, MetricEvent.conversation_id.in_(cohort))).all()
    by_name: dict[str, list] = defaultdict(list)
    for row in rows:
        by_name[row.name].append(row)

    # The cohort is the conversations started in the range: each start row here is before `end`.
    started = {r.conversation_id: r.at for r in by_name["conversation_started"]}
    conversations = len(started)
    handoffs = by_name["handoff"]
    handed_off = {r.conversation_id for r in handoffs}
    answered, fallbacks = by_name["topic_answered"], by_name["fallback"]
    bot_turns = len(answered) + len(fallbacks)
    # Offline tickets wait for support to open (often overnight): their waits are reported apart,
    # never in the live queue's figures.
    live_claims = [r for r in by_name["claimed"] if r.label != OFFLINE_CLAIM]
    offline_claims = [r for r in by_name["claimed"] if r.label == OFFLINE_CLAIM]
    offline_only = {r.conversation_id for r in offline_claims} - {r.conversation_id for r in live_claims}
    waits = [r.value for r in live_claims if r.value is not None]
    offline_waits = [r.value for r in offline_claims if r.value is not None]
    first_replies = [r.value for r in by_name["first_agent_reply"]
                     if r.value is not None and r.conversation_id not in offline_only]
    handles = [r.value for r in by_name["resolved"] if r.value is not None]
    csat = [int(r.value) for r in by_name["rated"] if r.label == "csat"]
    ces = [int(r.value) for r in by_name["rated"] if r.label == "ces"]
    nps_rows = [r for r in by_name["rated"] if r.label == "nps"]
    topics = Counter(r.label for r in answered if r.label not in NOT_TOPICS)

    per_agent: dict[int, dict[str, Any]] = defaultdict(lambda: {"claimed": 0, "resolved": 0, "handle_seconds": []})
    for r in by_name["claimed"]:
        if r.agent_id is not None:
            per_agent[r.agent_id]["claimed"] += 1
    for r in by_name["resolved"]:
        if r.agent_id is not None and r.value is not None:
            per_agent[r.agent_id]["resolved"] += 1
            per_agent[r.agent_id]["handle_seconds"].append(r.value)
    agents = dict(session.execute(select(Agent.id, Agent.name)).all())
    open_now = Counter(session.scalars(select(Conversation.agent_id).where(Conversation.status == "assigned")))
    for agent_id in open_now:
        per_agent[agent_id]  # noqa: B018 - an agent with open work but no claim in range still shows

    return {
        "from": first.isoformat(), "to": last.isoformat(), "timezone": timezone,
        "conversations": conversations,
        "containment_rate": _rate(conversations - len(handed_off), conversations),
        "handoff_rate": _rate(len(handed_off), conversations),
        "handoffs": len(handoffs),
        "handoff_reasons": dict(Counter(r.label for r in handoffs)),
        "fallback_rate": _rate(len(fallbacks), bot_turns),
        "top_topics": [{"topic": topic, "title": topic_title(topic, titles or {}, language), "count": count}
                       for topic, count in topics.most_common(10)],
        "queue_wait_seconds": {"p50": percentile(waits, 0.5), "p90": percentile(waits, 0.9), "count": len(waits)},
        "offline_ticket_wait_seconds": {"p50": percentile(offline_waits, 0.5), "p90": percentile(offline_waits, 0.9),
                                        "count": len(offline_waits)},
        "first_response_seconds": {"p50": percentile(first_replies, 0.5), "p90": percentile(first_replies, 0.9),
                                   "count": len(first_replies)},
        "handle_seconds": {"p50": percentile(handles, 0.5), "p90": percentile(handles, 0.9),
                           "mean": _mean(handles), "count": len(handles)},
        "csat": {"average": _mean(csat), "count": len(csat),
                 "distribution": {str(score): csat.count(score) for score in range(1, 6)},
                 "satisfied_rate": _rate(sum(1 for s in csat if s >= 4), len(csat))},
        "effort": {"average": _mean(ces), "count": len(ces),
                   "distribution": {str(score): ces.count(score) for score in range(1, 6)}},
        "nps": {**net_promoter([int(r.value) for r in nps_rows]),
                # By the day the conversation started, as every figure here: the periods add up to the total.
                "trend": nps_trend([(started.get(r.conversation_id, r.at), int(r.value)) for r in nps_rows],
                                   first, last, timezone),
                "comments": _nps_comments(session, cohort)},
        "assist": _assist(by_name, titles or {}, language),
        "per_day": _per_day(started, handed_off, first, last, timezone),
        "by_channel": _by_channel(session, cohort, by_name, started, handed_off, offline_only),
        "recent_ratings": _recent_ratings(session, cohort, agents),
        "agents": [{"agent_id": agent_id, "name": agents.get(agent_id, ""), "claimed": figures["claimed"],
                    "resolved": figures["resolved"], "open": open_now.get(agent_id, 0),
                    "handle_seconds_mean": _mean(figures["handle_seconds"])}
                   for agent_id, figures in sorted(per_agent.items())],
        "help_center": help_center_figures(session, first, last, timezone, cohort, titles or {}, language,
                                           help_origin),
    }


def is_help_center_page(page_url: Optional[str], help_origin: Optional[str]) -> bool:
    """A page of the help center (/help..., /en/help...), on its own origin when that is known."""
    if not page_url:
        return False
    parts = urlsplit(page_url)
    if help_origin is not None:
        origin = urlsplit(help_origin)
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
            return False
    return any(parts.path == root or parts.path.startswith(root + "/") for root in ("/help", "/en/help"))


def help_center_figures(session, first: date, last: date, timezone: str, cohort,
                        titles: dict[str, dict], language: str, help_origin: Optional[str]) -> dict[str, Any]:
    """Self-service: article views and visits (counted per day in the support time zone), searches
    and those with no good result, "Was this article helpful?" per article with the latest comments,
    and the chats opened from a help-center page (the widget sends the page's address) among the
    conversations started in the range (`cohort`, the query of their ids)."""
    start, end = day_range(first, last, timezone)
    views = dict(session.execute(select(HelpArticleView.topic, func.sum(HelpArticleView.views))
                                 .where(HelpArticleView.day >= first, HelpArticleView.day <= last)
                                 .group_by(HelpArticleView.topic)).all())
    visits = session.scalar(select(func.coalesce(func.sum(HelpVisit.visits), 0))
                            .where(HelpVisit.day >= first, HelpVisit.day <= last)) or 0
    searches = session.execute(select(HelpSearch.no_good_result, func.count())
                               .where(HelpSearch.created_at >= start, HelpSearch.created_at < end)
                               .group_by(HelpSearch.no_good_result)).all()
    searched = sum(n for _, n in searches)
    no_result = sum(n for flag, n in searches if flag)
    votes = session.execute(select(HelpVote.topic, HelpVote.helpful, func.count())
                            .where(HelpVote.created_at >= start, HelpVote.created_at < end)
                            .group_by(HelpVote.topic, HelpVote.helpful)).all()
    per_topic: dict[str, dict[str, int]] = defaultdict(lambda: {"yes": 0, "no": 0})
    for topic, helpful, count in votes:
        per_topic[topic]["yes" if helpful else "no"] += count
    yes = sum(v["yes"] for v in per_topic.values())
    no = sum(v["no"] for v in per_topic.values())
    articles = sorted(set(per_topic) | set(views), key=lambda t: (-(views.get(t) or 0), -sum(per_topic[t].values()), t))
    comments = session.execute(select(HelpVote.topic, HelpVote.helpful, HelpVote.comment, HelpVote.language,
                                      HelpVote.created_at)
                               .where(HelpVote.created_at >= start, HelpVote.created_at < end,
                                      HelpVote.comment.is_not(None))
                               .order_by(HelpVote.created_at.desc(), HelpVote.id.desc()).limit(20)).all()
    pages = session.scalars(select(Conversation.page_url).where(Conversation.id.in_(cohort),
                                                                Conversation.page_url.like("%/help%")))
    chats = sum(1 for url in pages if is_help_center_page(url, help_origin))
    article_views = sum(int(v or 0) for v in views.values())
    return {
        "article_views": article_views, "visits": int(visits),
        "searches": searched, "searches_no_result": no_result, "no_result_rate": _rate(no_result, searched),
        "votes": {"yes": yes, "no": no, "helpful_rate": _rate(yes, yes + no)},
        "articles": [{"topic": t, "title": topic_title(t, titles, language), "views": int(views.get(t) or 0),
                      "yes": per_topic[t]["yes"], "no": per_topic[t]["no"],
                      "helpful_rate": _rate(per_topic[t]["yes"], per_topic[t]["yes"] + per_topic[t]["no"])}
                     for t in articles[:50]],
        "comments": [{"topic": r.topic, "title": topic_title(r.topic, titles, language), "helpful": r.helpful,
                      "comment": r.comment, "language": r.language, "created_at": iso(r.created_at)} for r in comments],
        "chats_from_help": chats, "chat_rate": _rate(chats, int(visits)),
    }


# NPS: 9-10 promoters, 7-8 passives, 0-6 detractors; the score is % promoters - % detractors.
PROMOTER, DETRACTOR = 9, 6
NPS_WEEKLY_AFTER_DAYS = 31  # a longer range shows the trend by week (Monday to Sunday), else by day


def _assist(by_name: dict[str, list], titles: dict[str, dict], language: str) -> list[dict[str, Any]]:
    """Suggested answers per topic (handoff/agent_assist.py): shown to agents, used (sent, maybe
    edited), ignored (the agent sent something else); most shown first."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for outcome in ("shown", "used", "ignored"):
        for r in by_name["assist_" + outcome]:
            counts[r.label][outcome] += 1
    return [{"topic": topic, "title": topic_title(topic, titles, language), "shown": c["shown"], "used": c["used"],
             "ignored": c["ignored"], "used_rate": _rate(c["used"], c["used"] + c["ignored"])}
            for topic, c in sorted(counts.items(), key=lambda kv: (-kv[1]["shown"], kv[0]))]


def net_promoter(scores: list[int]) -> dict[str, Any]:
    """The Net Promoter Score (-100..100, one decimal; None without ratings) and its 0-10 distribution."""
    promoters = sum(1 for s in scores if s >= PROMOTER)
    detractors = sum(1 for s in scores if s <= DETRACTOR)
    return {"score": round(100 * (promoters - detractors) / len(scores), 1) if scores else None,
            "count": len(scores), "promoters": promoters, "passives": len(scores) - promoters - detractors,
            "detractors": detractors, "distribution": {str(score): scores.count(score) for score in range(11)}}


def nps_trend(ratings: list[tuple[datetime, int]], first: date, last: date, timezone: str) -> dict[str, Any]:
    """NPS per day of the range (support time zone), or per week (starting Monday; the first may
    begin before the range) for a range longer than NPS_WEEKLY_AFTER_DAYS; every period listed, its
    score None where nobody rated. `ratings`: (when, score)."""
    zone = ZoneInfo(timezone)
    weekly = (last - first).days + 1 > NPS_WEEKLY_AFTER_DAYS
    start_of = (lambda d: d - timedelta(days=d.weekday())) if weekly else (lambda d: d)
    periods: dict[date, list[int]] = {}
    day = first
    while day <= last:
        periods.setdefault(start_of(day), [])
        day += timedelta(days=1)
    for at, score in ratings:
        bucket = periods.get(start_of(at.astimezone(zone).date()))
        if bucket is not None:
            bucket.append(score)
    return {"unit": "week" if weekly else "day",
            "points": [{"start": start.isoformat(), "score": net_promoter(scores)["score"], "count": len(scores)}
                       for start, scores in periods.items()]}


def _nps_comments(session, cohort, limit: int = 20) -> list[dict]:
    """The cohort's latest NPS comments, newest first, with their scores."""
    rows = session.execute(select(Conversation.id, Conversation.nps, Conversation.nps_comment, Conversation.rated_at)
                           .where(Conversation.id.in_(cohort), Conversation.nps.is_not(None),
                                  Conversation.nps_comment.is_not(None))
                           .order_by(Conversation.rated_at.desc(), Conversation.id).limit(limit)).all()
    return [{"conversation_id": r.id, "score": r.nps, "comment": r.nps_comment, "rated_at": iso(r.rated_at)}
            for r in rows]


def topic_title(topic: str, titles: dict[str, dict], language: str) -> str:
    """A topic's title in `language` (else in the other language), or its id when it has none."""
    title = titles.get(topic) or {}
    return title.get(language) or next((t for t in title.values() if t), None) or topic


def _per_day(started: dict[str, datetime], handed_off: set[str], first: date, last: date,
             timezone: str) -> list[dict[str, Any]]:
    """Conversations started on each day of the range (support time zone), zeros included, and how
    many of those were handed off (whenever)."""
    zone = ZoneInfo(timezone)
    days = {first + timedelta(days=n): {"conversations": 0, "handoffs": 0} for n in range((last - first).days + 1)}
    for conversation_id, at in started.items():
        day = days.get(at.astimezone(zone).date())
        if day is not None:
            day["conversations"] += 1
            day["handoffs"] += conversation_id in handed_off
    return [{"date": day.isoformat(), **counts} for day, counts in days.items()]


def _by_channel(session, cohort, by_name: dict[str, list], started: dict[str, datetime], handed_off: set[str],
                offline_only: set[str]) -> list[dict[str, Any]]:
    """The main figures of the same cohort for each channel (web, line, email) it has conversations on."""
    channel_of = dict(session.execute(select(Conversation.id, Conversation.channel)
                                      .where(Conversation.id.in_(cohort))).all())
    figures: dict[str, dict[str, Any]] = {}
    for channel in sorted(set(channel_of.values()), key=lambda c: (c != "web", c)):
        mine = {cid for cid in started if channel_of.get(cid) == channel}

        def of(name: str) -> list:
            return [r for r in by_name[name] if r.conversation_id in mine]
        waits = [r.value for r in of("claimed") if r.label != OFFLINE_CLAIM and r.value is not None]
        firsts = [r.value for r in of("first_agent_reply") if r.value is not None and r.conversation_id not in offline_only]
        csat = [int(r.value) for r in of("rated") if r.label == "csat"]
        handed = len(mine & handed_off)
        bot_turns = len(of("topic_answered")) + len(of("fallback"))
        figures[channel] = {
            "channel": channel, "conversations": len(mine), "handoffs": handed,
            "containment_rate": _rate(len(mine) - handed, len(mine)), "handoff_rate": _rate(handed, len(mine)),
            "fallback_rate": _rate(len(of("fallback")), bot_turns),
            "queue_wait_seconds": {"p50": percentile(waits, 0.5), "p90": percentile(waits, 0.9), "count": len(waits)},
            "first_response_seconds": {"p50": percentile(firsts, 0.5), "p90": percentile(firsts, 0.9),
                                       "count": len(firsts)},
            "csat_average": _mean(csat), "csat_count": len(csat),
        }
    return list(figures.values())


def _recent_ratings(session, cohort, agents: dict[int, str], limit: int = 20) -> list[dict]:
    """The cohort's latest ratings, newest first, with the customer's comment."""
    rows = session.execute(select(Conversation.id, Conversation.csat, Conversation.ces, Conversation.rating_comment,
                                  Conversation.rated_at, Conversation.agent_id, Conversation.nps,
                                  Conversation.nps_comment)
                           .where(Conversation.id.in_(cohort), Conversation.rated_at.is_not(None))
                           .order_by(Conversation.rated_at.desc()).limit(limit)).all()
    return [{"conversation_id": r.id, "csat": r.csat, "ces": r.ces, "comment": r.rating_comment,
             "rated_at": iso(r.rated_at), "agent_name": agents.get(r.agent_id) if r.agent_id is not None else None,
             "nps": r.nps, "nps_comment": r.nps_comment}
            for r in rows]


def sla_attainment(session, first: date, last: date, timezone: str, policy, agent_states: dict[int, str]) -> dict[str, Any]:
    """SLA attainment (handoff/sla.py) for the dashboard's cohort (conversations started in the range)
    that were handed off: per clock, how many met their target and how many breached it, overall,
    per agent (the conversation's agent) and per day (the day it started). A clock still running and
    not yet late is pending: neither met nor breached yet, so it is not in the rate."""
    start, end = day_range(first, last, timezone)
    zone = ZoneInfo(timezone)
    cohort = (select(MetricEvent.conversation_id)
              .where(MetricEvent.name == "conversation_started", MetricEvent.at >= start, MetricEvent.at < end)
              .scalar_subquery())
    conversations = list(session.scalars(select(Conversation).where(Conversation.id.in_(cohort),
                                                                    Conversation.queued_at.is_not(None))))
    now = policy.now()

    def tally() -> dict[str, dict[str, Any]]:
        return {kind: {"met": 0, "breached": 0, "pending": 0} for kind in ("first_response", "resolution")}

    overall = tally()
    per_agent: dict[int, dict] = defaultdict(tally)
    days = {first + timedelta(days=n): tally() for n in range((last - first).days + 1)}
    for conversation in conversations:
        status = policy.status(conversation, now)
        if status is None:
            continue
        buckets = [overall]
        if conversation.agent_id is not None:
            buckets.append(per_agent[conversation.agent_id])
        day = days.get(conversation.created_at.astimezone(zone).date())
        if day is not None:
            buckets.append(day)
        for kind in ("first_response", "resolution"):
            clock = status[kind]
            if clock is None:
                continue
            outcome = "breached" if clock["breached"] else "met" if clock["met"] else "pending"
            for bucket in buckets:
                bucket[kind][outcome] += 1

    def rated(counts: dict[str, dict]) -> dict[str, dict]:
        return {kind: {**c, "rate": _rate(c["met"], c["met"] + c["breached"])} for kind, c in counts.items()}

    names = dict(session.execute(select(Agent.id, Agent.name)).all())
    for agent_id in session.scalars(select(Agent.id).where(Agent.active.is_(True))):
        per_agent[agent_id]  # noqa: B018 - the whole team shows, with its presence, even with nothing to count
    return {
        "targets": {"first_response": dict(policy.first_response), "resolution": dict(policy.resolution)},
        **rated(overall),
        "per_agent": [{"agent_id": agent_id, "name": names.get(agent_id, ""), "presence": agent_states.get(agent_id),
                       **rated(counts)} for agent_id, counts in sorted(per_agent.items())],
        "per_day": [{"date": day.isoformat(), **rated(counts)} for day, counts in days.items()],
    }
