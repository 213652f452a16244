"""Audit log: one audit_entries row per staff action, written in the transaction of the action itself,
so an action that rolls back leaves no entry and a committed one always has its entry."""
from __future__ import annotations

from .. import events
from ..audit import ASSIGNED_ACTION, CONTENT_ACTIONS, EVENT_ACTIONS, Actor, current_actor, new_entry
from ..events import Event, Listener


class AuditListener(Listener):
    handles = frozenset(EVENT_ACTIONS) | {events.CONTENT_CHANGED}

    def on_record(self, session, event: Event) -> None:
        data = event.data
        if event.name == events.RESOLVED and data.get("by") != "agent":
            return  # the customer ended it: not a staff action
        if event.name == events.PRESENCE_CHANGED and data.get("cause") != "chosen":
            return  # signing in or out has its own entry; a heartbeat's return is nobody's action
        actor = data.get("actor")
        if event.name == events.CLAIMED and data.get("assigned_by"):
            actor = Actor(None, f"assignment:{data['assigned_by']}")  # not whoever's request set it off
        if not isinstance(actor, Actor):
            # Conversation moves carry the owner as agent_id; the one acting is the request's agent.
            actor = current_actor(event.agent_id)
        if event.name == events.CONTENT_CHANGED:
            action, target_type, target_id = CONTENT_ACTIONS[data["kind"]], "topic", data.get("topic")
        else:
            action, target_type = EVENT_ACTIONS[event.name]
            if event.name == events.CLAIMED and data.get("assigned_by"):
                action = ASSIGNED_ACTION  # auto-assignment gave it to the agent (handoff/assignment.py)
            target_id = (event.conversation_id if target_type == "conversation"
                         else data.get("target_contact_id") if target_type == "contact" else data.get("target_agent_id"))
            if event.name == events.LOGIN_FAILED and target_id is not None:
                target_type = "agent"  # a failed attempt on an account that exists
        detail = {key: value for key, value in data.get("audit", {}).items() if value is not None}
        if event.name == events.TRANSFERRED:
            detail.update(from_agent_id=data.get("from_agent_id"), to_agent_id=event.agent_id)
        elif event.name in (events.CLAIMED, events.RESOLVED, events.HANDED_BACK) and event.agent_id != actor.id:
            detail["owner_agent_id"] = event.agent_id  # an admin acting on someone else's conversation
        session.add(new_entry(actor, action, target_type, target_id, detail))
