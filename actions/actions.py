"""The bot's custom actions: answer a topic, suggest topics, handle fallbacks, hand off.

Conversation logic only: content comes from actions.content, hours from the top-level support_hours (shared with the handoff service).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import config, content
from intents import COMPLAINT, FALLBACK_INTENTS, NOT_TOPICS
from support_hours import SupportHours

logger = logging.getLogger(__name__)

HANDOFF_REASONS = {"request_human", "repeated_fallback", "complaint", "not_helpful"}


def language_of(tracker: Tracker) -> Text:
    return tracker.get_slot("language") or "ja"


def user_turns(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Parse data of the customer's turns in this conversation, oldest first."""
    return [e.get("parse_data") or {} for e in tracker.events if e.get("event") == "user"]


def not_understood_in_a_row(tracker: Tracker) -> int:
    """How many of the customer's latest turns in a row the bot did not understand, this one
    included: those it answered with this fallback action, whatever their intent (a "yes"
    when nothing was asked is one), or whose intent is a fallback intent."""
    turns: List[List[Text]] = []  # per user turn: its intent, then the actions that followed it
    for event in tracker.events:
        if event.get("event") == "user":
            turns.append([((event.get("parse_data") or {}).get("intent") or {}).get("name")])
        elif event.get("event") == "action" and turns:
            turns[-1].append(event.get("name"))
    in_a_row = 0
    for index, (intent, *actions) in enumerate(reversed(turns)):
        current = index == 0  # its fallback action is the one running now
        if not (current or intent in FALLBACK_INTENTS or ActionHandleFallback.NAME in actions):
            break
        in_a_row += 1
    return in_a_row


def suggested_topics(parse_data: Dict[Text, Any], exclude: Optional[Text] = None) -> List[Text]:
    """The closest FAQ topics from a turn's intent ranking (known topics only)."""
    known = content.topics()
    ranked = [r.get("name") for r in parse_data.get("intent_ranking") or []]
    picks = [n for n in ranked if n in known and n not in NOT_TOPICS and n != exclude]
    return picks[: config.MAX_SUGGESTIONS]


def topic_buttons(topics: List[Text], language: Text) -> List[Dict[Text, Text]]:
    return [{"title": content.topic_title(t, language) or t, "payload": f"/{t}"} for t in topics]


def person_button(language: Text) -> Dict[Text, Text]:
    label = content.response_text("utter_button_talk_to_person", language) or "担当者と話す"
    return {"title": label, "payload": "/request_human"}


class ActionAnswerFAQ(Action):
    """Answers the topic of the customer's message, then asks whether it helped."""

    def name(self) -> Text:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        topic = tracker.get_intent_of_latest_message()
        language = language_of(tracker)
        dispatcher.utter_message(response=f"utter_{topic}")
        buttons = []
        if content.offers_human(topic):
            buttons.append(person_button(language))
        dispatcher.utter_message(response="utter_ask_helpful", buttons=buttons)
        return []


class ActionSuggestTopics(Action):
    """After "no, it did not help": the closest other topics and a person."""

    def name(self) -> Text:
        return "action_suggest_topics"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        language = language_of(tracker)
        turns = user_turns(tracker)
        # The question that was answered is the turn before this "no".
        question = turns[-2] if len(turns) >= 2 else {}
        answered = (question.get("intent") or {}).get("name")
        buttons = topic_buttons(suggested_topics(question, exclude=answered), language)
        buttons.append(person_button(language))
        dispatcher.utter_message(response="utter_suggest_topics", buttons=buttons)
        # Tells the gateway which question did not help (for the editors' review).
        dispatcher.utter_message(json_message={"feedback": {
            "helpful": False, "topic": answered, "question": question.get("text"),
        }})
        return []


class ActionHandleFallback(Action):
    """First fallback: ask to rephrase with suggestions; second in a row: hand off. Also what the
    bot does with a turn no rule covers (Rasa's core fallback), such as a yes or no when it asked
    nothing: that counts as not understood."""

    NAME = "action_handle_fallback"

    def name(self) -> Text:
        return self.NAME

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        turns = user_turns(tracker)
        if not_understood_in_a_row(tracker) >= config.FALLBACKS_BEFORE_HANDOFF:
            return hand_off(dispatcher, tracker, "repeated_fallback")
        language = language_of(tracker)
        buttons = topic_buttons(suggested_topics(turns[-1] if turns else {}), language)
        buttons.append(person_button(language))
        dispatcher.utter_message(response="utter_ask_rephrase", buttons=buttons)
        return []


class ActionHandoff(Action):
    """Hands the conversation to a person: asked for one, upset, or the answer did not help."""

    def name(self) -> Text:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        intent = tracker.get_intent_of_latest_message()
        if intent == COMPLAINT:
            dispatcher.utter_message(response="utter_complaint_apology")
            return hand_off(dispatcher, tracker, "complaint", apologised=True)
        # "Talk to a person" pressed under the topics offered after "did not help".
        previous_bot_action = _previous_action(tracker)
        reason = "not_helpful" if previous_bot_action == "action_suggest_topics" else "request_human"
        return hand_off(dispatcher, tracker, reason)


def _previous_action(tracker: Tracker) -> Optional[Text]:
    """The last action the bot ran before the customer's latest message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: Text,
             apologised: bool = False) -> List[Dict[Text, Any]]:
    """Tells the customer and emits the handoff payload (docs/architecture.md)."""
    assert reason in HANDOFF_REASONS, reason
    language = language_of(tracker)
    online = SupportHours.from_env().is_open()
    if not online:
        dispatcher.utter_message(response="utter_handoff_offline")
    elif not apologised:
        dispatcher.utter_message(response="utter_handoff")
    turns = [
        {
            "text": t.get("text"),
            "language": _turn_language(t),
            "intent": (t.get("intent") or {}).get("name"),
            "confidence": (t.get("intent") or {}).get("confidence"),
            "intent_ranking": (t.get("intent_ranking") or [])[:5],
        }
        for t in user_turns(tracker)[-config.HANDOFF_TURNS:]
    ]
    dispatcher.utter_message(json_message={"handoff": {
        "reason": reason,
        "language": language,
        "priority": "high" if reason == "complaint" else "normal",
        "offline": not online,
        "turns": turns,
    }})
    logger.info("Handoff of %s: %s (%s)", tracker.sender_id, reason, "online" if online else "offline")
    return []


def _turn_language(parse_data: Dict[Text, Any]) -> Optional[Text]:
    return next((e.get("value") for e in parse_data.get("entities") or []
                 if e.get("entity") == "language"), None)
