"""The bot's custom actions: answer a topic (a verified customer's own order, when they name it),
suggest topics, handle fallbacks, hand off.

Conversation logic only: content comes from actions.content, hours from the top-level support_hours
(shared with the handoff service), orders from the shop's order API (actions/api/orders.py).
"""
from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import config, content
from actions.api.orders import Order, OrderApi, OrderApiUnavailable, OrderNotFound
from intents import COMPLAINT, FALLBACK_INTENTS, NLU_FALLBACK, NOT_TOPICS
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
    when nothing was asked is one), or whose intent is a fallback intent; but not a turn the
    fallback action answered with the customer's own order (see ActionHandleFallback)."""
    turns: List[List[Text]] = []  # per user turn: its intent, then the actions and answers that followed
    for event in tracker.events:
        if event.get("event") == "user":
            turns.append([((event.get("parse_data") or {}).get("intent") or {}).get("name")])
        elif event.get("event") == "action" and turns:
            turns[-1].append(event.get("name"))
        elif event.get("event") == "bot" and turns:
            turns[-1].append((event.get("metadata") or {}).get("utter_action") or "")
    in_a_row = 0
    for index, (intent, *actions) in enumerate(reversed(turns)):
        current = index == 0  # its fallback action is the one running now
        if not (current or intent in FALLBACK_INTENTS or ActionHandleFallback.NAME in actions):
            break
        if not current and any(a.startswith(ORDER_ANSWER_PREFIX) for a in actions if a):
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
    """Answers the topic of the customer's message, then asks whether it helped. "Where is my
    order?" with an order number, from a customer the shop verified, is answered with that order's
    status from the shop's order API; anyone else, or an order that is not theirs, gets the topic's
    answer, the same whether the number exists or not."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        topic = tracker.get_intent_of_latest_message()
        language = language_of(tracker)
        outcome = await answer_own_order(dispatcher, tracker, language) if topic in config.ORDER_TOPICS else None
        if outcome == ORDER_UNAVAILABLE:
            return []  # said so, with a person offered: nothing was answered to ask about
        if outcome is None:
            dispatcher.utter_message(response=f"utter_{topic}")
        buttons = []
        if content.offers_human(topic):
            buttons.append(person_button(language))
        dispatcher.utter_message(response="utter_ask_helpful", buttons=buttons)
        return []


def verified_customer_id(tracker: Tracker) -> Optional[Text]:
    """The shop's customer id the handoff gateway attached to this message, which it does only for
    a customer the shop's signature verified (contacts.verified_customer_id). Message metadata
    comes from the gateway alone: the widget cannot set it, and the Rasa server takes messages only
    from the gateway (JWT), the action server calls only from Rasa (token)."""
    metadata = (tracker.latest_message or {}).get("metadata")
    customer = metadata.get("customer") if isinstance(metadata, dict) else None
    customer_id = customer.get("id") if isinstance(customer, dict) else None
    return customer_id if isinstance(customer_id, str) and customer_id.strip() else None


_ORDER_NUMBER = re.compile(config.ORDER_NUMBER_PATTERN)


def order_number_in(text: Optional[Text]) -> Optional[Text]:
    """The first order number in the message (ORDER_NUMBER_PATTERN), full-width digits included."""
    match = _ORDER_NUMBER.search(unicodedata.normalize("NFKC", text or ""))
    if match is None:
        return None
    return match.group(1) if _ORDER_NUMBER.groups else match.group(0)


async def own_order(tracker: Tracker) -> Optional[Order]:
    """The verified customer's order named in their message; None when the order API is not set
    up, the customer is not verified, the message names no order, or no such order is theirs.
    OrderApiUnavailable when the order API gives no usable answer in time."""
    api = OrderApi.from_config()
    customer_id = verified_customer_id(tracker)
    number = order_number_in((tracker.latest_message or {}).get("text"))
    if api is None or customer_id is None or number is None:
        return None
    try:
        # In a thread: the action server's event loop keeps serving other conversations meanwhile.
        return await asyncio.to_thread(api.order, number, customer_id)
    except OrderNotFound:
        logger.info("Order lookup for %s: not this customer's order (or no such order)", tracker.sender_id)
        return None


ORDER_TOLD, ORDER_UNAVAILABLE = "told", "unavailable"
# The answers about one order (domain.yml): a turn answered with one of them was understood.
ORDER_ANSWER_PREFIX = "utter_order_lookup_"


async def answer_own_order(dispatcher: CollectingDispatcher, tracker: Tracker, language: Text) -> Optional[Text]:
    """Tells the verified customer the order their message names: ORDER_TOLD. The order API in
    trouble: says so and offers a person, ORDER_UNAVAILABLE. Otherwise (not verified, no number,
    not their order) says nothing and returns None, so the caller answers as for anyone."""
    try:
        order = await own_order(tracker)
    except OrderApiUnavailable as error:
        logger.warning("Order lookup for %s failed: %s", tracker.sender_id, error)
        dispatcher.utter_message(response="utter_order_lookup_unavailable", buttons=[person_button(language)])
        return ORDER_UNAVAILABLE
    if order is None:
        return None
    tell_order(dispatcher, order, language)
    return ORDER_TOLD


def closest_topic(parse_data: Dict[Text, Any]) -> Optional[Text]:
    """The best-ranked intent of a turn that is not a fallback intent."""
    ranked = [r.get("name") for r in parse_data.get("intent_ranking") or []]
    return next((name for name in ranked if name not in FALLBACK_INTENTS), None)


# Each status's answer, written `response="..."` so `make validate` sees the answers used.
STATUS_ANSWERS = {
    "received": dict(response="utter_order_lookup_received"),
    "paid": dict(response="utter_order_lookup_paid"),
    "preparing": dict(response="utter_order_lookup_preparing"),
    "shipped": dict(response="utter_order_lookup_shipped"),
    "delivered": dict(response="utter_order_lookup_delivered"),
    "cancelled": dict(response="utter_order_lookup_cancelled"),
}
# How the items of an order are listed in each language ("白磁の飯碗 ×2、..." / "Rice bowl ×2, ...").
ITEM_SEPARATORS = {"ja": "、", "en": ", "}


def tell_order(dispatcher: CollectingDispatcher, order: Order, language: Text) -> None:
    """The order's status; its parcel's carrier and tracking number once shipped; when it should arrive."""
    items = ITEM_SEPARATORS.get(language, ", ").join(f"{i.name} ×{i.quantity}" for i in order.items)
    dispatcher.utter_message(**STATUS_ANSWERS[order.status], order_number=order.order_number, items=items,
                             shipped_at=_day(order.shipped_at), delivered_at=_day(order.delivered_at))
    if order.tracking_number and order.status in ("shipped", "delivered"):
        tracking = dict(carrier=order.carrier, tracking_number=order.tracking_number)
        if order.tracking_url:
            dispatcher.utter_message(response="utter_order_lookup_tracking_link", tracking_url=order.tracking_url,
                                     **tracking)
        else:
            dispatcher.utter_message(response="utter_order_lookup_tracking", **tracking)
    if order.estimated_delivery and order.status not in ("delivered", "cancelled"):
        dispatcher.utter_message(response="utter_order_lookup_estimated_delivery",
                                 estimated_delivery=_day(order.estimated_delivery))


def _day(value) -> Optional[Text]:
    return value.isoformat() if value is not None else None


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
    nothing: that counts as not understood.

    An order number pulls a message's intent below the confidence threshold ("Where is my order
    #100231?" falls back where "Where is my order?" does not), so a verified customer's message
    that fell back, names an order number, and whose closest topic is an order question is
    answered with their own order when it is theirs; otherwise as any fallback, word for word."""

    NAME = "action_handle_fallback"

    def name(self) -> Text:
        return self.NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):
        turns = user_turns(tracker)
        latest = turns[-1] if turns else {}
        if ((latest.get("intent") or {}).get("name") == NLU_FALLBACK
                and closest_topic(latest) in config.ORDER_TOPICS
                and await answer_own_order(dispatcher, tracker, language_of(tracker))):
            return []
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
