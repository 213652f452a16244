"""The intents that are not FAQ topics, named once for the bot, its actions and the handoff service.

Every other intent of the domain is a topic. Standard library only, like languages.py beside it:
both Python environments import it from the repository root.
"""
from __future__ import annotations

# The conversation itself, not a question the FAQ answers: small talk, "talk to a person", a
# complaint. A handoff is traced back past them to the question that led to it.
CONVERSATION_INTENTS = ("greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge", "request_human",
                        "complaint")
# Answered only when the message is that and nothing more (bot.classifier's narrow check): small
# talk around a greeting, or a question after "thanks", is not a greeting or a thanks.
NARROW_INTENTS = ("greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge")
# The bot did not understand: the classifier's `nlu_fallback`, or the trained `out_of_scope` intent.
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")
NOT_TOPICS = CONVERSATION_INTENTS + FALLBACK_INTENTS
