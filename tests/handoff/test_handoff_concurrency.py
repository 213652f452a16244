"""Races, on SQLite and PostgreSQL: agents claiming at once, customers writing at once."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from handoff.lifecycle import request_handoff, start_conversation
from handoff.models import Conversation, Message
from handoff_support import AgentSession, Customer, add_agent


def test_20_agents_racing_for_200_conversations_claim_each_exactly_once(make_app):
    app = make_app(AGENT_MAX_CONCURRENT=1000)
    services = app.extensions["tsunagi"]
    with services.db.writing() as session:
        ids = [start_conversation(session, "ja").id for _ in range(200)]
    with services.db.writing() as session:
        for conversation_id in ids:
            request_handoff(session, conversation_id, services.hours)
    agents = []
    for number in range(20):
        add_agent(app, f"agent{number}@shop.example")
        agents.append(AgentSession(app, f"agent{number}@shop.example"))
    start = threading.Barrier(len(agents))
    taken: set[str] = set()  # what a console learns from the live queue: claimed ones drop out

    def work(numbered):
        # Two agents start at each of ten places along the queue and race each other from there;
        # faster pairs then run into slower ones.
        number, agent = numbered
        shift = (number % 10) * 20
        order = ids[shift:] + ids[:shift]
        won, lost, other = [], 0, Counter()
        start.wait()
        for conversation_id in order:
            if conversation_id in taken:
                continue
            response = agent.post(f"/api/agent/conversations/{conversation_id}/claim")
            if response.status_code == 200:
                won.append(conversation_id)
            elif response.status_code == 409 and response.get_json()["error"]["code"] == "already_claimed":
                lost += 1
            else:
                other[response.status_code] += 1
            taken.add(conversation_id)
        return agent.agent["id"], won, lost, other

    with ThreadPoolExecutor(len(agents)) as pool:
        results = list(pool.map(work, enumerate(agents)))

    assert all(not other for _, _, _, other in results), [other for *_, other in results]
    winners = Counter(cid for _, won, _, _ in results for cid in won)
    assert len(winners) == 200 and set(winners.values()) == {1}
    assert sum(lost for _, _, lost, _ in results) >= 50  # the agents did collide, many times
    with services.db.reading() as session:
        owners = dict(session.execute(select(Conversation.id, Conversation.agent_id)).all())
        joined = Counter(session.scalars(select(Message.conversation_id).where(Message.sender == "system",
                                                                               Message.text.like("%が対応いたします%"))))
    for agent_id, won, _, _ in results:
        assert all(owners[cid] == agent_id for cid in won)
    assert set(joined.values()) == {1} and len(joined) == 200  # one "agent joined" each, from the winner


def test_100_customers_writing_at_once_lose_nothing_duplicate_nothing_and_keep_order(make_app):
    # The Rasa stand-in shares this process's GIL with 100 client threads: give it time to answer.
    app = make_app(RASA_TIMEOUT=20)
    per_customer = 5
    start = threading.Barrier(100)

    def customer_session(number: int):
        client = app.test_client()
        customer = Customer(client, "en")
        sent = [f"customer {number} message {i} about shipping" for i in range(per_customer)]
        start.wait()
        for i, text in enumerate(sent):
            response = customer.send(text, client_message_id=f"c{number}-{i}")
            assert response.status_code == 201, response.get_json()
            if i == 2:  # a widget retrying after a lost answer must not make a second copy
                retry = customer.send(text, client_message_id=f"c{number}-{i}")
                assert retry.status_code == 200
        return customer.id, sent

    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(customer_session, range(100)))

    with app.extensions["tsunagi"].db.reading() as session:
        for conversation_id, sent in results:
            rows = session.execute(select(Message.seq, Message.sender, Message.text).where(
                Message.conversation_id == conversation_id).order_by(Message.seq)).all()
            assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))  # no gaps, no repeats
            assert [text for _, sender, text in rows if sender == "customer"] == sent
            assert sum(1 for _, sender, _ in rows if sender == "bot") == 2 * per_customer
