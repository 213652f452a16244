"""Every JSON body and query of the HTTP API, declared once as pydantic models: the views are
validated with them (handoff/validation.py) and /api/openapi.json is generated from them (handoff/openapi.py).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from .lifecycle import HANDOFF_REASONS, Status
from .system_messages import LANGUAGES

# Texts may not hold NUL (PostgreSQL cannot store it); required ones need something besides white
# space. White space is spelled out as ECMAScript's \s, so that the server (Rust regex), the
# document's readers (JavaScript) and schemathesis (Python re) all read the patterns alike.
WHITE_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NO_NUL = r"^[^\u0000]*$"
SOMETHING = rf"^[^\u0000]*[^\u0000{WHITE_SPACE}][^\u0000]*$"
EMAIL = rf"^[{WHITE_SPACE}]*[^@\u0000{WHITE_SPACE}]{{1,64}}@[^@\u0000{WHITE_SPACE}]+\.[^@\u0000{WHITE_SPACE}]+[{WHITE_SPACE}]*$"
INT32 = 2**31 - 1

Language = Literal[LANGUAGES]
HandoffReason = Literal[HANDOFF_REASONS]


def Text(max_length: int, *, required: bool = False) -> Any:
    """A string of at most max_length characters; a required one must not be blank."""
    if required:
        return Annotated[str, StringConstraints(min_length=1, max_length=max_length, pattern=SOMETHING)]
    return Annotated[str, StringConstraints(max_length=max_length, pattern=NO_NUL)]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def Integer(low: int, high: int) -> Any:
    """An integer from low to high. As in JSON Schema, 2.0 is one; "2" and true are not (bodies are
    validated strictly)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole)]


def _within_message_limit(value: str, info: ValidationInfo) -> str:
    limit = info.context["MAX_MESSAGE_CHARS"]  # the app's config is the validation context
    if len(value) > limit:
        raise PydanticCustomError("message_too_long", "is longer than {limit} characters", {"limit": limit})
    return value


# The message limit is a setting (MAX_MESSAGE_CHARS), so the document states its maxLength per app.
_MESSAGE_LIMIT = (AfterValidator(_within_message_limit), Field(json_schema_extra={"x-max-length": "MAX_MESSAGE_CHARS"}))
MessageText = Annotated[str, StringConstraints(min_length=1, pattern=SOMETHING), *_MESSAGE_LIMIT]
Comment = Annotated[str, StringConstraints(pattern=NO_NUL), *_MESSAGE_LIMIT]
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL)]
MessageIds = Annotated[list[Integer(1, 2**63 - 1)], Field(max_length=500)]
Examples = Annotated[list[Text(2000)], Field(max_length=200)]


class Body(BaseModel):
    """A request body or query: unknown fields are ignored; an optional field sent as null is absent."""
    model_config = ConfigDict(populate_by_name=True)


# Requests: customer API (/api/v1)

class CustomerIdentity(Body):
    """The shop's signed-in customer (docs/identity.md). Used only when `hash` is the hex
    HMAC-SHA256 of `id` with IDENTITY_SECRET; otherwise ignored and the chat is anonymous."""
    id: Text(200, required=True) = Field(description="the shop's customer id")
    name: Optional[Text(200)] = None
    email: Optional[Text(254)] = None
    hash: Text(128, required=True) = Field(description="hex HMAC-SHA256(IDENTITY_SECRET, id), made by the shop's server")


class NewConversation(Body):
    language: Optional[Language] = None
    page_url: Optional[Text(2000)] = None
    customer: Optional[CustomerIdentity] = Field(None, description="the shop's signed-in customer, signed by the shop")


class CustomerMessage(Body):
    text: MessageText
    client_message_id: Optional[Text(100)] = None
    display_text: Optional[Text(200)] = Field(None, description="the clicked button's title; text is its payload")


class Typing(Body):
    typing: bool


class HandoffRequest(Body):
    reason: Optional[HandoffReason] = None


class OfflineMessage(Body):
    email: Email
    text: MessageText


Survey = Literal["csat", "ces", "nps"]


class Ending(Body):
    csat: Optional[Integer(1, 5)] = None
    ces: Optional[Integer(1, 5)] = None
    comment: Optional[Comment] = None
    nps: Optional[Integer(0, 10)] = Field(None, description="how likely the customer would recommend the shop, 0-10")
    nps_comment: Optional[Comment] = Field(None, description="the customer's \"why?\" to the nps score")


class AfterQuery(Body):
    after: int = Field(0, ge=0, le=INT32, description="only messages with a greater seq")


class StreamQuery(Body):
    last_event_id: Optional[int] = Field(None, ge=0, le=INT32, description="resume after this event")
    ticket: Optional[str] = Field(None, max_length=200, description="a stream ticket from POST .../stream-ticket "
                                  "(EventSource cannot send the token in a header, and the token never goes in a URL)")


class StreamHeaders(Body):
    last_event_id: Optional[int] = Field(None, alias="Last-Event-ID", ge=0, le=INT32,
                                         description="sent by the browser when it reconnects")


# Requests: agent, admin and editor APIs

class Login(Body):
    email: Text(254, required=True)
    password: Text(1000, required=True)


class AgentText(Body):
    text: MessageText


class AgentReply(AgentText):
    suggestion_topic: Optional[Text(200)] = Field(
        None, description="the suggested answer's topic the agent inserted (and may have edited): counted as used")


class Transfer(Body):
    agent_id: Integer(1, INT32)


class LanguageQuery(Body):
    language: Optional[Language] = None


class ConversationsQuery(Body):
    mine: bool = Field(False, description="only the agent's own")


class DateRangeQuery(Body):
    """Days in SUPPORT_TIMEZONE, both included; the last 7 days by default."""
    first: Optional[date] = Field(None, alias="from")
    last: Optional[date] = Field(None, alias="to")


class UnansweredQuery(DateRangeQuery, LanguageQuery):
    pass


class KpisQuery(DateRangeQuery):
    lang: Optional[Language] = Field(None, description="the language topics are named in (the dashboard's); "
                                                       "DEFAULT_LANGUAGE when absent")


class CannedReplyFields(Body):
    language: Language
    title: Text(200, required=True)
    text: MessageText


class NewExamples(Body):
    topic: Text(200, required=True)
    examples: Annotated[Examples, Field(min_length=1)]
    message_ids: MessageIds = []
    search_ids: MessageIds = Field([], description="help-center searches with no good result (a group's search_ids)")


class Bilingual(Body):
    ja: Text(2000)
    en: Text(2000)


class TopicDraft(Body):
    id: Text(100)
    category: Text(100)
    title: Bilingual
    answer: Bilingual
    offer_human: Optional[bool] = None


class NewTopic(Body):
    topic: TopicDraft
    examples: Examples
    message_ids: MessageIds = []
    search_ids: MessageIds = Field([], description="help-center searches with no good result (a group's search_ids)")


class Dismissal(Body):
    message_ids: MessageIds
    search_ids: MessageIds = Field([], description="help-center searches with no good result (a group's search_ids)")


HELP_QUERY_CHARS = 200


class HelpSearchQuery(Body):
    q: Text(HELP_QUERY_CHARS, required=True) = Field(description="the customer's words")
    lang: Optional[Language] = Field(None, description="the language of the titles and snippets; "
                                                       "Accept-Language, else DEFAULT_LANGUAGE, when absent")
    limit: Integer(1, 20) = 10
    record: bool = Field(True, description="false while the customer is still typing: not counted, and "
                                           "never put on the editors' unanswered list")


# Responses: only documented (the schemathesis test checks the service keeps to them).

class Error(BaseModel):
    class Detail(BaseModel):
        code: str
        message: str
    error: Detail


class Button(BaseModel):
    title: str
    payload: str


class Nlu(BaseModel):
    class Ranked(BaseModel):
        name: Optional[str] = None
        confidence: Optional[float] = None
    intent: Optional[str] = None
    confidence: Optional[float] = None
    intent_ranking: list[Ranked] = []


class Message(BaseModel):
    id: int
    seq: int = Field(ge=1)
    sender: Literal["customer", "bot", "agent", "system"]
    text: str
    language: str
    created_at: datetime
    buttons: Optional[list[Button]] = None
    agent_name: Optional[str] = None
    display_text: Optional[str] = Field(None, description="A quick-reply click's button title, shown instead of "
                                                          "the payload in text")
    nlu: Optional[Nlu] = Field(None, description="agents only: the bot's reading of a customer message")
    article_url: Optional[str] = Field(None, description="a bot answer about a topic: the path of its help-center "
                                                         "article (/help/<category>/<topic>, /en/help/... in English)")


class Conversation(BaseModel):
    class QueuePlace(BaseModel):
        position: int = Field(ge=1)
        eta_seconds: Optional[int] = Field(ge=0, description="estimated seconds until an agent takes it; null "
                                                             "when no agent is online")

    class AssignedAgent(BaseModel):
        name: str
    id: str
    status: Status
    language: Language
    queue: Optional[QueuePlace]
    agent: Optional[AssignedAgent]
    online: bool
    surveys: Optional[list[Survey]] = Field(None, description="the questions to ask after the chat (SURVEYS), in order")
    email_replies: bool = Field(False, description="the team's reply to an offline ticket also goes to the e-mail "
                                                   "address the offline form takes (e-mail is configured)")


class StartedConversation(BaseModel):
    id: str
    token: str
    status: Status
    language: Language
    surveys: Optional[list[Survey]] = Field(None, description="the questions to ask after the chat (SURVEYS), in order")
    email_replies: bool = Field(False, description="as in Conversation")
    identified: Optional[bool] = Field(None, description="present when `customer` was sent: whether its signature "
                                                         "was verified (the conversation is a known contact's)")


class StreamTicket(BaseModel):
    ticket: str = Field(description="opens this conversation's stream once: GET .../stream?ticket=")
    expires_in: int = Field(description="seconds left to open the stream with it (STREAM_TICKET_SECONDS)")


class Exchange(BaseModel):
    message: Message
    replies: list[Message]


class Messages(BaseModel):
    messages: list[Message]


class Agent(BaseModel):
    id: int
    email: str
    name: str
    role: Literal["agent", "editor", "admin"]
    open_conversations: Optional[int] = None
    max_concurrent: Optional[int] = None
    presence: Optional[Literal["online", "away", "offline"]] = Field(
        None, description="online, away or offline (handoff/presence.py); offline also when the console has "
                          "been silent for PRESENCE_TIMEOUT_SECONDS")


class PresenceChange(Body):
    state: Literal["online", "away", "offline"]


class Presence(BaseModel):
    presence: Literal["online", "away", "offline"]
    timeout_seconds: int = Field(description="PRESENCE_TIMEOUT_SECONDS: send a heartbeat well within it")


class SlaClock(BaseModel):
    target_seconds: int
    due_at: Optional[datetime] = Field(description="when the target runs out, support hours counted; null if "
                                                   "support never opens")
    seconds_left: int = Field(description="support-hours seconds left; negative: late by that much")
    running: bool = Field(description="counting now (not stopped, and support is open)")
    stopped: bool
    breached: bool
    met: bool


class Sla(BaseModel):
    first_response: Optional[SlaClock] = Field(None, description="null: no target for this priority")
    resolution: Optional[SlaClock] = None
    breached: bool


class Session(BaseModel):
    agent: Agent
    csrf_token: Optional[str]
    password_change_required: bool = Field(False, description="after a reset: every call but POST "
                                                              "/api/agent/password answers 403 until it is made")


class SignInToken(BaseModel):
    csrf_token: str


class QueueItem(BaseModel):
    id: str
    status: Optional[Status] = None
    language: Language
    reason: Optional[HandoffReason]
    priority: Optional[Literal["high", "normal"]]
    wait_seconds: int
    queued_at: Optional[datetime] = None
    first_question: Optional[str]
    offline: bool
    email: Optional[str]
    sla: Optional[Sla] = None
    # Where the customer talks to us (handoff/channels): the channel, their address on it, the name it gave.
    channel: Literal["web", "line", "email"] = "web"
    channel_address: Optional[str] = None
    customer_name: Optional[str] = None


class Queue(BaseModel):
    queue: list[QueueItem]


class ConversationSummary(BaseModel):
    class Owner(BaseModel):
        id: Optional[int] = None
        name: Optional[str] = None
    id: str
    status: Status
    language: Language
    reason: Optional[HandoffReason] = None
    priority: Optional[str] = None
    offline: Optional[bool] = None
    email: Optional[str] = None
    agent: Optional[Owner]
    created_at: Optional[datetime] = None
    queued_at: Optional[datetime] = None
    claimed_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    first_question: Optional[str]
    last_message_at: Optional[datetime]
    sla: Optional[Sla] = None
    channel: Literal["web", "line", "email"] = "web"
    channel_address: Optional[str] = None
    customer_name: Optional[str] = None


class Conversations(BaseModel):
    conversations: list[ConversationSummary]


class Note(BaseModel):
    id: int
    text: str
    agent_name: str
    created_at: datetime


class ConversationDetail(ConversationSummary):
    class GivenRating(BaseModel):
        csat: Optional[int] = None
        ces: Optional[int] = None
        comment: Optional[str] = None
        nps: Optional[int] = None
        nps_comment: Optional[str] = None
    handoff_turns: list[dict[str, Any]]
    page_url: Optional[str] = None
    rating: Optional[GivenRating] = None
    messages: list[Message]
    notes: list[Note]


class NoteCreated(BaseModel):
    note: Note


class AgentMessage(BaseModel):
    message: Message


class Suggestions(BaseModel):
    class Suggestion(BaseModel):
        topic: str
        title: str
        text: str = Field(description="the topic's answer in the customer's language")
        confidence: Optional[float] = None
        rank: int = Field(ge=1)
    message_id: Optional[int] = Field(None, description="the customer's latest message; null when there is none")
    seq: Optional[int] = None
    language: Optional[Language] = None
    suggestions: Annotated[list[Suggestion], Field(max_length=3)]


class Agents(BaseModel):
    agents: list[Agent]


class CannedReply(BaseModel):
    id: int
    language: Language
    title: str
    text: str


class CannedReplies(BaseModel):
    canned_replies: list[CannedReply]


class OneCannedReply(BaseModel):
    canned_reply: CannedReply


class Figures(BaseModel):
    p50: Optional[float] = None
    p90: Optional[float] = None
    mean: Optional[float] = None
    count: int


class HelpCenterFigures(BaseModel):
    class Votes(BaseModel):
        yes: int
        no: int
        helpful_rate: Optional[float]

    class Article(BaseModel):
        topic: str
        title: str
        views: int
        yes: int
        no: int
        helpful_rate: Optional[float]

    class Comment(BaseModel):
        topic: str
        title: str
        helpful: bool
        comment: str
        language: str
        created_at: datetime

    article_views: int = Field(description="help-center article views in the range (crawlers not counted)")
    visits: int = Field(description="help-center visits begun in the range (30 idle minutes end one)")
    searches: int = Field(description="searches on the help-center pages and recorded API searches")
    searches_no_result: int
    no_result_rate: Optional[float]
    votes: Votes
    articles: Annotated[list[Article], Field(max_length=50)]
    comments: Annotated[list[Comment], Field(max_length=20)]
    chats_from_help: int = Field(description="conversations started in the range on a help-center page")
    chat_rate: Optional[float] = Field(description="chats_from_help / visits")


class Kpis(BaseModel):
    class TopTopic(BaseModel):
        topic: Optional[str] = None
        title: Optional[str] = Field(None, description="the topic's title (data/topics) in `lang`; its id when it has none")
        count: Optional[int] = None

    class Csat(BaseModel):
        average: Optional[float] = None
        count: Optional[int] = None
        distribution: Optional[dict[str, int]] = None
        satisfied_rate: Optional[float] = None

    class Effort(BaseModel):
        average: Optional[float] = None
        count: Optional[int] = None
        distribution: Optional[dict[str, int]] = None

    class Day(BaseModel):
        date: date
        conversations: int
        handoffs: int

    class AssistTopic(BaseModel):
        topic: str
        title: str
        shown: int
        used: int
        ignored: int
        used_rate: Optional[float] = Field(None, description="used / (used + ignored); null before any reply")

    class Nps(BaseModel):
        class Trend(BaseModel):
            class Point(BaseModel):
                start: date
                score: Optional[float] = None
                count: int
            unit: Literal["day", "week"]
            points: list[Point]

        class Comment(BaseModel):
            conversation_id: str
            score: int = Field(ge=0, le=10)
            comment: str
            rated_at: datetime
        score: Optional[float] = Field(None, description="% promoters (9-10) - % detractors (0-6); null without ratings")
        count: int
        promoters: int
        passives: int
        detractors: int
        distribution: dict[str, int]
        trend: Trend
        comments: Annotated[list[Comment], Field(max_length=20)]

    class RecentRating(BaseModel):
        conversation_id: str
        csat: Optional[int]
        ces: Optional[int]
        comment: Optional[str]
        rated_at: datetime
        agent_name: Optional[str]
        nps: Optional[int] = None
        nps_comment: Optional[str] = None

    class ChannelFigures(BaseModel):
        channel: Literal["web", "line", "email"]
        conversations: int
        handoffs: int
        containment_rate: Optional[float]
        handoff_rate: Optional[float]
        fallback_rate: Optional[float]
        queue_wait_seconds: Figures
        first_response_seconds: Figures
        csat_average: Optional[float]
        csat_count: int

    class AgentLoad(BaseModel):
        agent_id: Optional[int] = None
        name: Optional[str] = None
        claimed: Optional[int] = None
        resolved: Optional[int] = None
        open: Optional[int] = None
        handle_seconds_mean: Optional[float] = None
        presence: Optional[Literal["online", "away", "offline"]] = None
    model_config = ConfigDict(populate_by_name=True)
    first: Optional[date] = Field(None, alias="from")
    last: Optional[date] = Field(None, alias="to")
    timezone: Optional[str] = None
    conversations: int
    containment_rate: Optional[float]
    handoff_rate: Optional[float]
    handoffs: Optional[int] = None
    handoff_reasons: dict[str, int]
    fallback_rate: Optional[float]
    top_topics: list[TopTopic]
    queue_wait_seconds: Figures
    offline_ticket_wait_seconds: Optional[Figures] = None
    first_response_seconds: Figures
    handle_seconds: Figures
    csat: Csat
    effort: Effort
    nps: Optional[Nps] = None
    assist: Optional[list[AssistTopic]] = Field(None, description="suggested answers per topic: shown, used, ignored")
    per_day: list[Day]
    by_channel: list[ChannelFigures] = Field(default=[], description="the same cohort's main figures per channel "
                                                                     "(web, line, email) it has conversations on")
    recent_ratings: Annotated[list[RecentRating], Field(max_length=20)]
    agents: list[AgentLoad]
    help_center: Optional[HelpCenterFigures] = Field(None, description="self-service: the help center's use")
    sla: Optional["SlaAttainment"] = None


class SlaTally(BaseModel):
    met: int
    breached: int
    pending: int = Field(description="still running and not late yet: not in the rate")
    rate: Optional[float] = Field(description="met / (met + breached); null when none settled")


class SlaAttainment(BaseModel):
    class AgentAttainment(BaseModel):
        agent_id: int
        name: str
        presence: Optional[Literal["online", "away", "offline"]] = None
        first_response: SlaTally
        resolution: SlaTally

    class DayAttainment(BaseModel):
        date: date
        first_response: SlaTally
        resolution: SlaTally
    targets: dict[str, dict[str, int]] = Field(description="seconds per priority (SLA_FIRST_RESPONSE, SLA_RESOLUTION)")
    first_response: SlaTally
    resolution: SlaTally
    per_agent: list[AgentAttainment]
    per_day: list[DayAttainment]


Kpis.model_rebuild()  # its `sla` names SlaAttainment, defined after it


class UnansweredQuestions(BaseModel):
    class Question(BaseModel):
        conversation_id: Optional[str] = None
        text: Optional[str] = None
        language: Optional[str] = None
        intent: Optional[str] = None
        confidence: Optional[float] = None
        intent_ranking: Optional[list[dict[str, Any]]] = None
        created_at: Optional[datetime] = None
    model_config = ConfigDict(populate_by_name=True)
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    questions: list[Question]


class UnansweredGroups(BaseModel):
    class Group(BaseModel):
        class Example(BaseModel):
            message_id: Optional[int] = Field(description="null for a help-center search (search_id)")
            conversation_id: Optional[str]
            text: str
            language: str
            created_at: datetime
            reasons: list[str]
            topic: Optional[str] = None
            agent_reply: Optional[str] = Field(None, description="agent_answered: the reply the agent wrote")
            search_id: Optional[int] = None

        class NearestTopic(BaseModel):
            id: str
            title: dict[str, Any]
            similarity: float
        id: str
        count: int = Field(ge=1)
        languages: dict[str, int]
        reasons: dict[str, int]
        first_asked_at: Optional[datetime] = None
        last_asked_at: Optional[datetime] = None
        examples: list[Example]
        message_ids: list[int]
        search_ids: list[int] = []
        texts: list[str]
        nearest_topic: Optional[NearestTopic] = Field(description="null also while index_warming")

    class Topic(BaseModel):
        id: str
        category: str
        title: dict[str, Any]
        examples: int
    model_config = ConfigDict(populate_by_name=True)
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    questions: int
    groups: list[Group]
    topics: list[Topic]
    categories: list[str]
    index_warming: bool = Field(False, description="the topics' embeddings are still being computed in the "
                                                   "background: no nearest topics yet; ask again shortly")


class Handled(BaseModel):
    handled: int = Field(ge=0)


class ContentChange(Handled):
    class Change(BaseModel):
        files: list[str]
        diff: str
        added: list[str]
        skipped: list[dict[str, Any]]
    change: Change


class ChannelsStatus(BaseModel):
    """GET /api/agent/channels: which channels are on, LINE's push quota, and the outbox."""
    class Channel(BaseModel):
        class Quota(BaseModel):
            type: Optional[str] = Field(None, description="`limited` (a monthly limit) or `none` (no limit)")
            limit: Optional[int] = None
            used: Optional[int] = None
        channel: Literal["web", "line", "email"]
        configured: bool
        push_quota: Optional[Quota] = Field(None, description="this month's push messages (LINE), when the API reports it")

    class FailedRow(BaseModel):
        id: int
        channel: str
        conversation_id: Optional[str]
        attempts: int
        last_error: Optional[str]
        created_at: datetime
    channels: list[Channel]
    outbox: dict[str, int] = Field(description="`pending` rows, and rows `failed` in the last 24 hours")
    failed: Annotated[list[FailedRow], Field(max_length=20)]


class Health(BaseModel):
    class RasaServer(BaseModel):
        url: str
        up: bool
    status: str = Field(description="`ok`, `degraded` (200: a part in `degraded` is down, chat still works) or "
                                    "`unavailable` (503: no database)")
    checks: dict[str, Any]
    degraded: list[str] = Field(default=[], description="the parts down: `redis`, `rasa`; `outbox`: a message to a "
                                                        "channel (LINE, e-mail) failed after every retry in the last 24 hours")
    rasa_servers: list[RasaServer] = []


# Staff accounts and the audit log (admin API, handoff/agents.py, handoff/audit.py)

Role = Literal["agent", "editor", "admin"]


class PasswordChange(Body):
    current_password: Text(1000, required=True)
    new_password: Text(1000, required=True)


class NewAgent(Body):
    email: Email
    name: Text(100, required=True)
    role: Role = "agent"
    password: Optional[Text(1000, required=True)] = Field(None, description="omitted: a temporary one is made, "
                                                                            "to be changed at first sign-in")


class PasswordReset(Body):
    password: Optional[Text(1000, required=True)] = Field(None, description="omitted: a random temporary one")


class RoleChange(Body):
    role: Role


class StaffMember(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    active: bool
    must_change_password: bool
    open_conversations: int
    created_at: Optional[str]
    presence: Optional[Literal["online", "away", "offline"]] = None


class Staff(BaseModel):
    agents: list[StaffMember]


class StaffChange(BaseModel):
    agent: StaffMember
    temporary_password: Optional[str] = Field(None, description="shown once: hand it to the agent")
    requeued_conversations: Optional[int] = Field(None, description="their conversations sent back to the queue")


class AuditQuery(Body):
    """Days in SUPPORT_TIMEZONE, both included; no dates: everything."""
    actor_id: Optional[Integer(1, INT32)] = None
    action: Optional[Text(40)] = None
    first: Optional[date] = Field(None, alias="from")
    last: Optional[date] = Field(None, alias="to")
    page: Integer(1, INT32) = 1


class AuditEntry(BaseModel):
    id: int
    at: str
    actor_id: Optional[int]
    actor: str
    action: str
    target_type: Optional[str]
    target_id: Optional[str]
    detail: dict[str, Any]
    ip: Optional[str]
    user_agent: Optional[str]


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    page: int
    per_page: int
    total: int
    actions: list[str]


class HelpSearchResult(BaseModel):
    class Hit(BaseModel):
        topic: str
        category: str
        title: str
        url: str = Field(description="the article's page in the asked language, e.g. /help/shipping/shipping_fee "
                                     "or /en/help/shipping/shipping_fee")
        score: float
        snippet_html: str = Field(description="escaped HTML; the words that matched are in <mark>")
    query: str
    language: Language
    hits: list[Hit]
    no_good_result: bool = Field(description="nothing matched well: offer the chat")
    warming: bool = Field(description="the index of meanings is still being built after a start or a "
                                      "content change: this answer used keywords only")
# Known customers (handoff/contacts.py) and their privacy (handoff/privacy.py)

IdentityKind = Literal["email", "line", "phone"]


class IdentityLink(Body):
    kind: IdentityKind = Field(description="the channel of the address (the shop's customer id comes from its signature only)")
    value: Text(254, required=True)


class ContactsQuery(Body):
    q: Text(254, required=True) = Field(description="a name, e-mail address, shop customer id or any linked address")


class ContactIdentityOut(BaseModel):
    kind: str
    value: str
    created_at: Optional[datetime] = None


class ContactOut(BaseModel):
    id: int
    shop_customer_id: Optional[str] = None
    name: Optional[str] = None
    email: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    identities: list[ContactIdentityOut]
    notes: list[Note]


class PastConversation(BaseModel):
    class GivenRating(BaseModel):
        csat: Optional[int] = None
        ces: Optional[int] = None
        comment: Optional[str] = None
    id: str
    created_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    channel: str = Field(description="web, or the channel it came in on")
    status: Status
    topics: list[str] = Field(description="the FAQ topics of the customer's messages (NLU intents)")
    outcome: Literal["bot", "agent", "offline", "open"]
    agent_name: Optional[str] = None
    rating: Optional[GivenRating] = None


class ContactCard(BaseModel):
    contact: Optional[ContactOut] = Field(description="null: an anonymous conversation")
    verified: bool = Field(False, description="the shop's signature proved who the customer is in this conversation")
    history: list[PastConversation] = Field(description="the contact's other conversations, newest first")


class ContactList(BaseModel):
    contacts: list[ContactOut]


class ContactIdentityLinked(BaseModel):
    identity: ContactIdentityOut
    linked_conversations: int = Field(description="earlier conversations with that address now shown in the history")


class ContactNoteCreated(BaseModel):
    note: Note


class ContactExport(BaseModel):
    """Everything held about a contact (APPI/GDPR access request)."""
    model_config = ConfigDict(extra="allow")
    exported_at: datetime
    contact: ContactOut
    conversations: list[dict[str, Any]]


class ContactErased(BaseModel):
    contact_id: int
    conversations: int = Field(description="conversations whose personal data was erased (the rows stay, anonymous, for the KPI totals)")
