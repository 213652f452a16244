"""Helpers of the handoff tests: a customer's widget and a logged-in agent, through the API."""
from __future__ import annotations

from typing import NamedTuple

from handoff.agents import create_agent


class Customer:
    """The widget's side of one conversation."""

    def __init__(self, client, language: str = "en"):
        self.client = client
        response = client.post("/api/v1/conversations", json={"language": language})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        self.id, self.token = body["id"], body["token"]
        self.path = f"/api/v1/conversations/{self.id}"

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, text: str, **extra):
        return self.client.post(self.path + "/messages", json={"text": text, **extra}, headers=self.headers)

    def post(self, suffix: str, json=None):
        return self.client.post(self.path + suffix, json=json, headers=self.headers)

    def status(self) -> dict:
        return self.client.get(self.path, headers=self.headers).get_json()

    def history(self) -> list[dict]:
        return self.client.get(self.path + "/messages", headers=self.headers).get_json()["messages"]


def log_in(client, email: str, password: str, **headers):
    """POST /api/agent/login as the console does: with the sign-in page's CSRF token."""
    token = client.get("/api/agent/login").get_json()["csrf_token"]
    return client.post("/api/agent/login", json={"email": email, "password": password},
                       headers={"X-CSRF-Token": token, **headers})


class AgentSession:
    """An agent logged in through the API, sending the CSRF token on writes."""

    def __init__(self, app, email: str, password: str = "correct horse"):
        self.client = app.test_client()
        response = log_in(self.client, email, password)
        assert response.status_code == 200, response.get_json()
        self.csrf = response.get_json()["csrf_token"]
        self.agent = response.get_json()["agent"]

    def post(self, path: str, json=None):
        return self.client.post(path, json=json, headers={"X-CSRF-Token": self.csrf})

    def get(self, path: str):
        return self.client.get(path)

    def conversation(self, conversation_id: str) -> dict:
        return self.get(f"/api/agent/conversations/{conversation_id}").get_json()


def add_agent(app, email: str, role: str = "agent", name: str | None = None, max_concurrent: int | None = None,
              password: str = "correct horse") -> int:
    with app.extensions["tsunagi"].db.writing() as session:
        return create_agent(session, email, name or email.split("@")[0].title(), role, password, max_concurrent).id


class DayOfWork(NamedTuple):
    boss: AgentSession
    answered: Customer
    helped: Customer
    lost: Customer


def a_day_of_work(app, client) -> DayOfWork:
    """Three customers: one answered by the bot and rated, one with a complaint handed to admin Boss
    (claimed, answered, resolved, rated), one handed off after a second fallback and left waiting."""
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    boss = AgentSession(app, "boss@shop.example")
    answered = Customer(client)
    answered.send("How much is shipping?")
    answered.post("/end", {"csat": 5, "ces": 1})
    helped = Customer(client)
    helped.send("This is a complaint!")
    boss.post(f"/api/agent/conversations/{helped.id}/claim")
    boss.post(f"/api/agent/conversations/{helped.id}/messages", {"text": "Sorry about that"})
    boss.post(f"/api/agent/conversations/{helped.id}/resolve")
    helped.post("/end", {"csat": 2, "ces": 4})
    lost = Customer(client)
    lost.send("blah")
    lost.send("blah blah")  # second fallback: handed off, still waiting
    return DayOfWork(boss, answered, helped, lost)
