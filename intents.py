"""The intents that are not FAQ topics, named once for the bot, its actions and the handoff service.

Every other intent of the domain is a topic. Standard library only, like languages.py beside it:
both Python environments import it from the repository root.
"""
from __future__ import annotations

# Each name as domain.yml spells it (tests/bot/test_intents.py checks them against it).
GREET, GOODBYE, THANKS = "greet", "goodbye", "thanks"
AFFIRM, DENY = "affirm", "deny"
BOT_CHALLENGE = "bot_challenge"
REQUEST_HUMAN = "request_human"
COMPLAINT = "complaint"
NLU_FALLBACK = "nlu_fallback"  # Rasa's name for "no intent was confident enough"; not in domain.yml
OUT_OF_SCOPE = "out_of_scope"

# The conversation itself, not a question the FAQ answers: small talk, "talk to a person", a
# complaint. A handoff is traced back past them to the question that led to it.
CONVERSATION_INTENTS = (GREET, GOODBYE, THANKS, AFFIRM, DENY, BOT_CHALLENGE, REQUEST_HUMAN, COMPLAINT)
# Answered only when the message is that and nothing more (bot.classifier's narrow check): small
# talk around a greeting, or a question after "thanks", is not a greeting or a thanks.
NARROW_INTENTS = (GREET, GOODBYE, THANKS, AFFIRM, DENY, BOT_CHALLENGE)
# The bot did not understand: the classifier's `nlu_fallback`, or the trained `out_of_scope` intent.
FALLBACK_INTENTS = (NLU_FALLBACK, OUT_OF_SCOPE)
NOT_TOPICS = CONVERSATION_INTENTS + FALLBACK_INTENTS
