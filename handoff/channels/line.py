"""LINE Messaging API channel: LINE users talk to the same bot, queue and agents as the widget.

Inbound: POST /channels/line/webhook (the URL set in the LINE Developers console). The
X-Line-Signature (base64 HMAC-SHA256 of the raw body with LINE_CHANNEL_SECRET) is checked on the
raw bytes before anything is parsed: a bad or missing one gets 401 and nothing is stored. A good
one stores each event in channel_events (unique by webhookEventId, so a redelivery is stored once)
and answers 200 at once; the event workers (handoff/outbox.py Queue) process the events after the
answer, in order per LINE user, and a process that dies after the 200 leaves them to the next.

    message (text)  -> handoff.channels.receive_message: the bot, or the agents after a handoff
    message (other) -> a polite "text only" answer; agents see "(sticker)" etc. in the transcript
    postback        -> a quick-reply button: its payload goes to the bot, its title to the transcript
    follow          -> a greeting;  unfollow -> the customer's undelivered messages are dropped

Outbound (the "line" sender of the outbox): a row's messages go in one reply API call while the
event's reply token is fresh (LINE_REPLY_TOKEN_SECONDS after the webhook received it; the reply API
is free), else by the push API (counted against the month's quota) with X-Line-Retry-Key, a UUID
derived from the row's idempotency key, so a retried push is never delivered twice (LINE answers
409 to a key it already accepted). A reply API call that timed out may have been delivered: its
retry reuses the same token, and LINE's "Invalid reply token" to it (inside the fresh window) means
the first call was; it is then not sent again. Bot buttons become quick replies (at most 13,
labels cut to 20 characters), messages longer than 5000 characters are split, at most 5 message
objects per call (the rest go by push). An agent typing shows LINE's loading animation. The
customer's display name comes from the profile API.

Not the official line-bot-sdk (v3): it would bring 14 packages the service does not have
(aiohttp and its 7 dependencies, future, aenum, python-dateutil, six, Deprecated, wrapt; counted
from line-bot-sdk 3.27.0's Requires-Dist) for six HTTP calls, and its webhook parser works on the
decoded body after its own signature check, while we must store the raw events first. The calls
are plain `requests`, as for Rasa (one session per thread, a timeout on every call).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Optional

import requests
from flask import Blueprint, current_app, request
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..database import utcnow
from ..errors import ApiError, NotFound, Unauthorized
from ..models import ChannelEvent, Conversation, OutboxEntry
from ..outbox import (PENDING, FAILED, PermanentFailure, TemporaryFailure, note_progress,
                      register_event_processor, register_sender)
from . import customer_name_known, receive_message, receive_notice, set_customer_name, workers_of

log = logging.getLogger(__name__)

CHANNEL = "line"
MAX_TEXT = 5000            # characters of one text message object
MAX_MESSAGES_PER_CALL = 5  # message objects of one reply or push call
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20             # characters of a quick-reply button's label
MAX_POSTBACK_DATA = 300    # characters of a postback action's data
LOADING_SECONDS = 20       # the loading animation shows at most this long (LINE: 5..60, by 5)
LOADING_FRESH_SECONDS = 10  # a typing signal older than this is no longer worth showing
# LINE's retry keys: UUIDs derived from our idempotency keys (the same key on every retry).
_RETRY_KEY_NAMESPACE = uuid.UUID("6f1c2a4e-8a2b-4d0e-9c3a-2b7d5e1f0a11")

TEXTS = {
    "text_only": {"ja": "申し訳ありません。テキストメッセージのみ対応しています。ご用件を文字でお送りください。",
                  "en": "Sorry, we can only read text messages. Please type your question."},
    "greeting": {"ja": "友だち追加ありがとうございます！ご質問をメッセージでお送りください。担当者におつなぎすることもできます。",
                 "en": "Thanks for adding us! Send us your question; we can also connect you to a member of our team."},
}
KIND_LABELS = {"image": "(画像 / image)", "video": "(動画 / video)", "audio": "(音声 / audio)",
               "file": "(ファイル / file)", "location": "(位置情報 / location)", "sticker": "(スタンプ / sticker)"}

bp = Blueprint("line_channel", __name__, url_prefix="/channels/line")


def install(app) -> bool:
    """Routes, sender and event processor; True when LINE is configured (secret and token)."""
    app.register_blueprint(bp)
    register_sender(CHANNEL, send)
    register_event_processor(CHANNEL, process_event)
    app.extensions["tsunagi_line"] = LineApi(app.config["LINE_API_BASE"], app.config["LINE_CHANNEL_ACCESS_TOKEN"],
                                             app.config["LINE_TIMEOUT"])
    return configured(app.config)


def status(app) -> dict:
    """For the console: whether LINE is on, and this month's push quota when LINE reports it."""
    on = configured(app.config)
    return {"channel": CHANNEL, "configured": on,
            "push_quota": app.extensions["tsunagi_line"].quota() if on else None}


def configured(config) -> bool:
    return bool(config["LINE_CHANNEL_SECRET"] and config["LINE_CHANNEL_ACCESS_TOKEN"])


def signature_of(secret: str, body: bytes) -> str:
    """LINE's X-Line-Signature of a body: base64(HMAC-SHA256(channel secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# ---- inbound -------------------------------------------------------------------------------------

@bp.post("/webhook")
def webhook():
    """LINE's webhook: verify, store the events, answer 200; the events are processed afterwards."""
    config = current_app.config
    if not configured(config):
        raise NotFound("channel_not_configured", "LINE is not configured on this service.")
    body = request.get_data(cache=False)  # the raw bytes, exactly as signed
    given = request.headers.get("X-Line-Signature", "")
    if not given or not hmac.compare_digest(given.encode(), signature_of(config["LINE_CHANNEL_SECRET"], body).encode()):
        raise Unauthorized("bad_signature", "X-Line-Signature is missing or does not match the body.")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ApiError("invalid_json", "The body is not JSON.")
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise ApiError("invalid_events", "The body has no `events` list.")
    received_at = utcnow()
    rows = []
    for event in events:
        if not isinstance(event, dict):
            continue
        external_id = event.get("webhookEventId")
        if not isinstance(external_id, str) or not external_id:
            # Older payloads had no id: the event's own bytes identify a redelivery of it.
            external_id = "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        rows.append({"channel": CHANNEL, "external_id": external_id[:200], "queue_key": source.get("userId"),
                     "payload": {"event": event, "received_at": received_at.isoformat()},
                     "status": PENDING, "attempts": 0, "next_attempt_at": received_at, "received_at": received_at})
    if rows:
        db = current_app.extensions["tsunagi"].db
        insert = (postgresql.insert if db.dialect == "postgresql" else sqlite.insert)(ChannelEvent.__table__)
        with db.writing() as session:
            # A redelivered event (same webhookEventId) is already there: stored once, processed once.
            session.execute(insert.on_conflict_do_nothing(index_elements=["channel", "external_id"]), rows)
        workers_of(current_app).events.wake()
    return {}, 200


def process_event(app, row) -> None:
    """One stored webhook event (a channel_events row), after the webhook answered."""
    event = row.payload["event"]
    received_at = row.payload.get("received_at")
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    user_id = source.get("userId")
    kind = event.get("type")
    if not user_id or source.get("type", "user") != "user":
        log.info("LINE event %s from a %s source ignored (only one-to-one chats are served)", kind, source.get("type"))
        return
    metadata = {"reply_token": event.get("replyToken"), "received_at": received_at}
    if kind == "message":
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        if message.get("type") == "text" and isinstance(message.get("text"), str) and message["text"].strip():
            text = message["text"][:app.config["MAX_MESSAGE_CHARS"]]
            receive_message(app, CHANNEL, user_id, text, external_id=message.get("id"), metadata=metadata)
        else:
            language = app.config["DEFAULT_LANGUAGE"]
            receive_notice(app, CHANNEL, user_id, _text("text_only", language),
                           customer_text=KIND_LABELS.get(message.get("type"), f"({message.get('type')})"),
                           external_id=message.get("id"), metadata=metadata)
    elif kind == "postback":
        postback = event.get("postback") if isinstance(event.get("postback"), dict) else {}
        payload, title = _postback_data(postback.get("data"))
        if payload:
            receive_message(app, CHANNEL, user_id, payload, external_id=f"postback:{row.external_id}",
                            metadata=dict(metadata, display_text=title or payload))
    elif kind == "follow":
        receive_notice(app, CHANNEL, user_id, _text("greeting", app.config["DEFAULT_LANGUAGE"]),
                       external_id=f"follow:{row.external_id}", metadata=metadata)
    elif kind == "unfollow":
        _drop_undelivered(app, user_id)
        return
    else:
        log.info("LINE event %s not handled", kind)
        return
    # The display name is asked of LINE's profile API after the answer, not before: it would delay it.
    if not customer_name_known(app, CHANNEL, user_id):
        name = app.extensions["tsunagi_line"].display_name(user_id)
        if name:
            set_customer_name(app, CHANNEL, user_id, name)


def _text(key: str, language: str) -> str:
    return TEXTS[key].get(language, TEXTS[key]["en"])


def _postback_data(data: Any) -> tuple[Optional[str], Optional[str]]:
    """Our quick replies' postback data is {"p": payload, "t": title}; anything else is the payload."""
    if not isinstance(data, str) or not data:
        return None, None
    try:
        parsed = json.loads(data)
    except ValueError:
        return data, None
    if isinstance(parsed, dict) and isinstance(parsed.get("p"), str):
        return parsed["p"], parsed.get("t") if isinstance(parsed.get("t"), str) else None
    return data, None


def _drop_undelivered(app, user_id: str) -> None:
    """The customer blocked the account: LINE would refuse every push, so the waiting rows fail now."""
    db = app.extensions["tsunagi"].db
    with db.writing() as session:
        conversations = select(Conversation.id).where(Conversation.channel == CHANNEL,
                                                      Conversation.channel_address == user_id)
        session.execute(update(OutboxEntry).where(OutboxEntry.conversation_id.in_(conversations),
                                                  OutboxEntry.status == PENDING)
                        .values(status=FAILED, last_error="the customer unfollowed (blocked) the LINE account")
                        .execution_options(synchronize_session=False))


# ---- outbound ------------------------------------------------------------------------------------

def quick_reply(buttons: Optional[list]) -> Optional[dict]:
    """Bot buttons as LINE quick-reply postback actions: at most 13, labels cut to 20 characters;
    the tap shows the full title in the chat and sends us the payload."""
    items = []
    for button in (buttons or [])[:MAX_QUICK_REPLIES]:
        title, payload = str(button.get("title", "")), str(button.get("payload", ""))
        if not title or not payload:
            continue
        data = json.dumps({"p": payload, "t": title[:100]}, ensure_ascii=False)
        if len(data) > MAX_POSTBACK_DATA:
            data = json.dumps({"p": payload[:250]}, ensure_ascii=False)
        items.append({"type": "action", "action": {"type": "postback", "label": title[:MAX_LABEL], "data": data,
                                                   "displayText": title[:300]}})
    return {"items": items} if items else None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A text cut into parts of at most `limit` characters, at a line break when there is one."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", limit // 2, limit)
        cut = limit if cut <= 0 else cut + 1
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return [part for part in parts if part]


def line_messages(items: list[dict]) -> list[dict]:
    """Our messages as LINE message objects; an agent's name is said when it is an agent's."""
    objects = []
    for item in items:
        parts = split_text(item["text"])
        chunk = [{"type": "text", "text": part} for part in parts]
        reply = quick_reply(item.get("buttons"))
        if reply and chunk:
            chunk[-1]["quickReply"] = reply
        objects += chunk
    return objects


def _fresh(received_at: Optional[str], seconds: float) -> bool:
    if not received_at:
        return False
    try:
        moment = datetime.fromisoformat(received_at)
    except ValueError:
        return False
    return utcnow() - moment < timedelta(seconds=seconds)


def retry_key(idempotency_key: str, part: int) -> str:
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, f"{idempotency_key}#{part}"))


def send(app, row) -> None:
    """The outbox sender for LINE: one row, in one reply call while its token is fresh, else pushed."""
    api: LineApi = app.extensions["tsunagi_line"]
    payload = dict(row.payload)
    address = payload["address"]
    if row.kind == "loading":
        if utcnow() - row.created_at > timedelta(seconds=LOADING_FRESH_SECONDS):
            return  # the agent has long since sent or stopped: nothing to show
        api.call("POST", "/v2/bot/chat/loading/start", {"chatId": address, "loadingSeconds": LOADING_SECONDS})
        return
    objects = line_messages(payload["messages"])
    calls = [objects[i:i + MAX_MESSAGES_PER_CALL] for i in range(0, len(objects), MAX_MESSAGES_PER_CALL)]
    done = int(payload.get("delivered_calls", 0))
    for number in range(done, len(calls)):
        reply_token = payload.get("reply_token")
        if number == 0 and reply_token and not payload.get("reply_refused") \
                and _fresh(payload.get("received_at"), app.config["LINE_REPLY_TOKEN_SECONDS"]):
            delivered = _reply(api, app, row, payload, reply_token, calls[0])
        else:
            delivered = _push(api, row, address, calls[number], number)
        if delivered:
            payload["delivered_calls"] = number + 1
            if number + 1 < len(calls):
                note_progress(app, OutboxEntry, row.id, payload)


def _reply(api, app, row, payload: dict, reply_token: str, messages: list[dict]) -> bool:
    try:
        api.call("POST", "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})
        return True
    except _Ambiguous:
        # It may have been delivered: the retry uses the same token, and LINE then tells.
        note_progress(app, OutboxEntry, row.id, dict(payload, reply_ambiguous=True))
        raise TemporaryFailure("LINE reply API timed out")
    except _Refused as refused:
        if "reply token" not in refused.message.lower():
            raise PermanentFailure(f"LINE refused the reply: {refused.status} {refused.message}")
        if payload.get("reply_ambiguous"):
            log.info("outbox row %s: the timed-out reply had used its token; not sent again", row.id)
            return True
    # The token was used or expired: push instead (from the next try on, straight away now).
    payload["reply_refused"] = True
    note_progress(app, OutboxEntry, row.id, payload)
    return _push(api, row, payload["address"], messages, 0)


def _push(api, row, address: str, messages: list[dict], number: int) -> bool:
    try:
        api.call("POST", "/v2/bot/message/push", {"to": address, "messages": messages},
                 headers={"X-Line-Retry-Key": retry_key(row.idempotency_key, number)})
    except _Ambiguous as error:
        raise TemporaryFailure(str(error))
    except _Refused as refused:
        if refused.status == 409:  # this retry key was accepted before: delivered once already
            return True
        raise PermanentFailure(f"LINE refused the push: {refused.status} {refused.message}")
    return True


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status} {message}")
        self.status, self.message = status, message


class _Ambiguous(TemporaryFailure):
    """A timeout: the call may or may not have been carried out."""


class LineApi:
    """The few Messaging API calls the channel makes. The access token goes in the Authorization
    header only and is never logged."""

    def __init__(self, base: str, token: str, timeout: float):
        self.base = base.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._local = threading.local()
        self._quota: Optional[tuple[float, dict]] = None

    @property
    def _http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def call(self, method: str, path: str, body: Optional[dict] = None, headers: Optional[dict] = None) -> Any:
        """The answer's JSON; TemporaryFailure (refused, 5xx, 429, 401/403: a token being rotated),
        _Ambiguous (timeout), _Refused (another 4xx)."""
        all_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        try:
            response = self._http.request(method, self.base + path, json=body, headers=all_headers,
                                          timeout=self.timeout)
        except requests.Timeout as error:
            raise _Ambiguous(f"LINE {path} timed out after {self.timeout:g} s") from error
        except requests.RequestException as error:
            raise TemporaryFailure(f"LINE {path} unreachable: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise TemporaryFailure(f"LINE {path} answered {response.status_code}")
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", ""))
            except (ValueError, AttributeError):
                message = response.text[:200]
            raise _Refused(response.status_code, message)
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {}

    def display_name(self, user_id: str) -> Optional[str]:
        """The user's LINE display name, None when the profile API does not give it."""
        try:
            profile = self.call("GET", f"/v2/bot/profile/{user_id}")
        except (TemporaryFailure, _Refused) as error:
            log.info("LINE profile not available: %s", error)
            return None
        name = profile.get("displayName") if isinstance(profile, dict) else None
        return name if isinstance(name, str) and name else None

    def quota(self, max_age: float = 60.0) -> Optional[dict]:
        """This month's push quota, as LINE reports it: {"type": "limited"|"none", "limit", "used"};
        None when LINE does not answer. Cached for a minute."""
        now = time.monotonic()
        if self._quota is not None and now - self._quota[0] < max_age:
            return self._quota[1]
        try:
            quota = self.call("GET", "/v2/bot/message/quota")
            used = self.call("GET", "/v2/bot/message/quota/consumption")
        except (TemporaryFailure, _Refused) as error:
            log.info("LINE quota not available: %s", error)
            return None
        value = {"type": quota.get("type"), "limit": quota.get("value"), "used": used.get("totalUsage")}
        self._quota = (now, value)
        return value
