"""What the service itself says to customers, in each language it speaks.

Offline tickets promise a reply by e-mail only when e-mail is configured (SMTP_URL and MAIL_FROM,
handoff/channels/email.py): then the agent's reply also goes to the address the form took.
Otherwise they promise a reply in this chat, and the address is shown to agents only."""
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
    "nobody_online": {
        "ja": "申し訳ありません。ただいま対応できる担当者がおりません。ご用件を残していただければ、担当者が戻りしだいこのチャットでお返事します。",
        "en": "Sorry, nobody from our team is available right now. Leave your message, and a member of our team will reply here in this chat as soon as one is back.",
    },
    "offline_received": {
        "ja": "メッセージを承りました。営業時間になりしだい、担当者がこのチャットでお返事します。このページに戻ると返信をご覧いただけます。",
        "en": "Thank you, we have your message. A member of our team will reply here in this chat when support opens; come back to this page to read it.",
    },
    "offline_received_open": {
        "ja": "メッセージを承りました。担当者が戻りしだい、このチャットでお返事します。このページに戻ると返信をご覧いただけます。",
        "en": "Thank you, we have your message. A member of our team will reply here in this chat as soon as one is back; come back to this page to read it.",
    },
    # The same two, when e-mail is configured (system_text picks them; see the module docstring).
    "offline_email": {
        "ja": "ただいま営業時間外のため、担当者がお返事できません。ご用件とメールアドレスを残していただければ、営業時間になりしだい担当者がメールとこのチャットでお返事します。",
        "en": "Our team is away right now. Leave your message and e-mail address, and a member of our team will reply by e-mail and here in this chat when support opens.",
    },
    "offline_received_email": {
        "ja": "メッセージを承りました。営業時間になりしだい、担当者がご入力のメールアドレスとこのチャットでお返事します。",
        "en": "Thank you, we have your message. A member of our team will reply to the e-mail address you gave, and here in this chat, when support opens.",
    },
    # On an e-mail conversation, where every reply is a mail.
    "offline_by_email": {
        "ja": "ただいま営業時間外のため、担当者がすぐにはお返事できません。営業時間になりしだい、担当者がメールでお返事します。",
        "en": "Our team is away right now. A member of our team will reply by e-mail when support opens.",
    },
    "nobody_online_email": {
        "ja": "申し訳ありません。ただいま対応できる担当者がおりません。ご用件とメールアドレスを残していただければ、担当者が戻りしだいメールとこのチャットでお返事します。",
        "en": "Sorry, nobody from our team is available right now. Leave your message and e-mail address, and a member of our team will reply by e-mail and here in this chat as soon as one is back.",
    },
    "offline_received_open_email": {
        "ja": "メッセージを承りました。担当者が戻りしだい、ご入力のメールアドレスとこのチャットでお返事します。",
        "en": "Thank you, we have your message. A member of our team will reply to the e-mail address you gave, and here in this chat, as soon as one is back.",
    },
    "nobody_online_by_email": {
        "ja": "申し訳ありません。ただいま対応できる担当者がおりません。担当者が戻りしだい、メールでお返事します。",
        "en": "Sorry, nobody from our team is available right now. A member of our team will reply by e-mail as soon as one is back.",
    },
    # E-mail replies (handoff/channels/email.py).
    "email_subject": {"ja": "【{shop}】お問い合わせへのご返信", "en": "Re: your message to {shop}"},
    "email_footer": {
        "ja": "ご質問やご返事は、このメールにそのままご返信ください。",
        "en": "To answer or ask anything else, just reply to this e-mail.",
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


# Texts that promise an e-mail reply: on the website when the app has e-mail configured (the
# offline form takes an address), always on an e-mail conversation; never on LINE.
_EMAIL_PROMISES = {"offline": "offline_email", "offline_received": "offline_received_email",
                   "nobody_online": "nobody_online_email", "offline_received_open": "offline_received_open_email"}
_BY_EMAIL = {"offline": "offline_by_email", "nobody_online": "nobody_online_by_email"}


def system_text(key: str, language: str, *, channel: str = "web", **values: str) -> str:
    """The text in the language (English when there is none in it). `channel`: the
    conversation's, for the texts that say how the team will reply."""
    if channel == "email" and key in _BY_EMAIL:
        key = _BY_EMAIL[key]
    elif channel == "web" and key in _EMAIL_PROMISES and email_replies():
        key = _EMAIL_PROMISES[key]
    texts = _TEXTS[key]
    return texts.get(language, texts["en"]).format(**values)


def email_replies() -> bool:
    """Whether the app at hand sends agents' replies to offline tickets by e-mail (outside an app
    context, e.g. a script, no promise is made)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return False
    from .channels.email import mail_configured
    return mail_configured(current_app.config)
