"""What the service itself says to customers, in each language it speaks.

Offline tickets promise a reply in this chat, never by e-mail: nothing sends e-mail yet (the
address the customer leaves is shown to agents only)."""
from __future__ import annotations

from languages import LANGUAGES  # noqa: F401 (the APIs import it from here)

_TEXTS = {
    "rasa_unavailable": {
        "ja": "申し訳ありません。ただいま自動応答が利用できません。お送りいただいたメッセージは保存されています。担当者におつなぎしましょうか？",
        "en": "Sorry, our assistant is not available right now. Your message has been saved. Would you like to talk to a person?",
    },
    "talk_to_person": {"ja": "担当者と話す", "en": "Talk to a person"},
    "queued": {
        "ja": "担当者におつなぎします。少々お待ちください。",
        "en": "We're connecting you to a member of our team. Please wait a moment.",
    },
    "offline": {
        "ja": "ただいま営業時間外のため、担当者がお返事できません。ご用件を残していただければ、営業時間になりしだい担当者がこのチャットでお返事します。",
        "en": "Our team is away right now. Leave your message, and a member of our team will reply here in this chat when support opens.",
    },
    "offline_received": {
        "ja": "メッセージを承りました。営業時間になりしだい、担当者がこのチャットでお返事します。このページに戻ると返信をご覧いただけます。",
        "en": "Thank you, we have your message. A member of our team will reply here in this chat when support opens; come back to this page to read it.",
    },
    "agent_joined": {"ja": "{name}が対応いたします。", "en": "{name} has joined the conversation."},
    # A returning verified customer routed to the agent who helped them last (handoff/lifecycle.py).
    "returning_agent": {
        "ja": "前回ご対応した{name}におつなぎします。",
        "en": "Connecting you to {name}, who helped you before.",
    },
    "transferred": {"ja": "{name}に引き継ぎました。", "en": "{name} has taken over the conversation."},
    "handed_back": {
        "ja": "自動応答に戻ります。ほかにご質問があればどうぞ。",
        "en": "You're back with our assistant. Ask anything else you need.",
    },
    "resolved": {"ja": "お問い合わせありがとうございました。", "en": "Thank you for contacting us."},
}


def system_text(key: str, language: str, **values: str) -> str:
    texts = _TEXTS[key]
    return texts.get(language, texts["en"]).format(**values)
