"""Reading an inbound e-mail for the e-mail channel (handoff/channels/email.py): what kind it is
(a person's mail, a bounce, an auto-reply), who sent it, and the new text the customer wrote, with
the quoted earlier mail, signatures and attachments left out.

Pure functions over the stdlib `email` package (policy.default decodes RFC 2047 headers and
ISO-2022-JP / Shift_JIS / UTF-8 bodies, which Japanese mail clients still send).

Quote stripping is ours: the one library for it on PyPI, email-reply-parser (Zapier), has had no
release since 2020 and knows only English reply headers ("On ... wrote:"), while Japanese clients
write "2026年11月30日(月) 10:00 山田 <a@b>:", "-----元のメッセージ-----", "差出人: ..." and so on.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Optional

# The same shape the widget's offline form accepts (handoff/schemas.py EMAIL), stricter on the
# characters: a sender we cannot write back to is not a customer.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")

BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
PERSON = "person"


def valid_address(address: str) -> bool:
    return len(address) <= 254 and bool(_ADDRESS.match(address))


def header(message: EmailMessage, name: str) -> str:
    """A header as text, '' when missing or unreadable (a malformed header must not stop the mail)."""
    try:
        value = message.get(name)
        return "" if value is None else str(value).strip()
    except Exception:  # the email package raises on some malformed structured headers
        return ""


def message_ids(value: str) -> list[str]:
    """The <...> ids of a Message-ID, In-Reply-To or References header, in order."""
    return re.findall(r"<[^<>\s]+>", value or "")


def sender_of(message: EmailMessage) -> tuple[str, str]:
    """(display name, address) of the From header; address '' when missing or invalid."""
    name, address = parseaddr(header(message, "From"))
    address = address.strip()
    if not valid_address(address):
        return name, ""
    return name.strip(), address.lower() if address.isascii() else address


def recipients_of(message: EmailMessage) -> list[str]:
    """Addresses the mail was written to (To, Cc, Delivered-To, X-Original-To)."""
    values = [header(message, name) for name in ("To", "Cc", "Delivered-To", "X-Original-To")]
    return [address for _, address in getaddresses([v for v in values if v]) if address]


def kind_of(message: EmailMessage, envelope_from: Optional[str]) -> tuple[str, str]:
    """(BOUNCE | AUTO_REPLY | PERSON, why). Bounces and auto-replies are never answered: answering
    them is how two robots end up mailing each other forever (RFC 3834)."""
    content_type = message.get_content_type()
    report_type = (message.get_param("report-type") or "").lower() if content_type == "multipart/report" else ""
    if content_type == "multipart/report" and report_type == "delivery-status":
        return BOUNCE, "multipart/report delivery-status"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return BOUNCE, "null envelope sender (Return-Path <>)"
    if header(message, "Return-Path") == "<>":
        return BOUNCE, "Return-Path <>"
    local = parseaddr(header(message, "From"))[1].split("@")[0].lower()
    if local in ("mailer-daemon", "postmaster"):
        return BOUNCE, f"sent by {local}"
    auto_submitted = header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return AUTO_REPLY, f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if header(message, name):
            return AUTO_REPLY, name
    precedence = header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return AUTO_REPLY, f"Precedence: {precedence}"
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return AUTO_REPLY, "mailing list"
    # The subject is the weakest signal, so it comes last, and counts only as a marker the
    # client put in front ("自動返信：", "【自動返信】", "Automatic reply:", "Out of Office:"): a
    # person may well write about auto-replies.
    subject = header(message, "Subject")
    if re.match(r"^\s*[\[【(（]?\s*(自動返信|自動応答|不在通知|Auto(matic)?[ -]?(reply|response)|AutoReply|Out of (the )?Office)"
                r"\s*[\]】)）:：]", subject, re.IGNORECASE):
        return AUTO_REPLY, f"subject {subject[:60]!r}"
    return PERSON, ""


def bounced_message_ids(message: EmailMessage) -> list[str]:
    """The Message-IDs a bounce reports on: from the returned message or headers inside the
    report (message/rfc822, text/rfc822-headers), else the bounce's own In-Reply-To/References."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        try:
            if kind == "message/rfc822":
                inner = part.get_payload(0) if part.is_multipart() else part.get_content()
                found += message_ids(header(inner, "Message-ID"))
            elif kind == "text/rfc822-headers":
                match = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", part.get_content(), re.IGNORECASE | re.MULTILINE)
                if match:
                    found.append(match.group(1))
        except Exception:
            continue
    return found or message_ids(header(message, "In-Reply-To")) + message_ids(header(message, "References"))


@dataclass
class Body:
    text: str                       # what the customer wrote, quote and signature stripped
    attachments: list[str] = field(default_factory=list)  # names of the parts not kept
    had_text: bool = True           # False: no text or HTML part at all


class _HtmlText(HTMLParser):
    """Text of an HTML-only mail: block elements become line breaks, scripts and styles vanish,
    and a Gmail/Outlook quote (blockquote, gmail_quote) is left out with what follows it."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quoted = False

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag == "blockquote" or "gmail_quote" in classes or dict(attrs).get("id") == "divRplyFwdMsg":
            self.quoted = True
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip and not self.quoted:
            self.parts.append(data)

    def text(self) -> str:
        return re.sub(r"\n{3,}", "\n\n", "".join(self.parts)).strip()


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return parser.text()


def body_of(message: EmailMessage) -> Body:
    """The customer's new text: the plain part (else the HTML part as text), quote stripped."""
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (part.get_filename() and part.get_content_maintype() != "text"):
            attachments.append(part.get_filename() or part.get_content_type())
        elif part.get_content_maintype() not in ("text",) and part.get_content_type() != "message/delivery-status":
            attachments.append(part.get_filename() or part.get_content_type())
    text = None
    for preference in (("plain",), ("html",)):
        try:
            part = message.get_body(preferencelist=preference)
        except Exception:
            part = None
        if part is None:
            continue
        try:
            content = part.get_content()
        except Exception:  # an unknown charset or a broken transfer encoding: read what we can
            raw = part.get_payload(decode=True) or b""
            content = raw.decode("utf-8", errors="replace")
        text = strip_quote(content) if preference == ("plain",) else strip_quote(html_to_text(content))
        break
    if text is None:
        return Body("", attachments, had_text=False)
    return Body(text, attachments)


# A line that opens the quoted earlier mail; everything from it on is left out.
_QUOTE_HEADERS = [
    # Gmail / Thunderbird / Apple Mail, English: "On Mon, Nov 30, 2026 at 10:00 AM Foo <a@b> wrote:"
    re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.IGNORECASE),
    # Japanese Gmail: "2026年11月30日(月) 10:00 山田 太郎 <a@b>:", Apple/Thunderbird ja:
    # "2026/11/30 10:00、山田 <a@b> のメール:", "... さんは書きました:", "... wrote:"
    re.compile(r"^\s*\d{4}[年/-]\s*\d{1,2}[月/-]\s*\d{1,2}日?.{0,200}(<[^>\s]+@[^>\s]+>|[\w.+-]+@[\w.-]+).{0,40}[:：]\s*$"),
    re.compile(r"^.{0,200}[\d@].{0,200}(さんは書きました|のメール|のメッセージ|wrote)\s*[:：]\s*$"),
    # Outlook and many Japanese clients.
    re.compile(r"^\s*-{2,}\s*(Original Message|元のメッセージ|Forwarded message|転送メッセージ|オリジナルメッセージ)\s*-{2,}\s*$",
               re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook on the web's rule above "From: ..."
    re.compile(r"^\s*(From|差出人|送信者)\s*[:：].{0,300}$"),
]
# The "From:" line of a header block only counts when a "Sent:/Date:/送信日時:" line follows it.
_HEADER_BLOCK_NEXT = re.compile(r"^\s*(Sent|Date|送信日時|日時|日付|To|宛先|Subject|件名)\s*[:：]", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676's signature separator


def strip_quote(text: str) -> str:
    """The text above the quoted earlier mail, without '>' lines and the signature. A mail that is
    nothing but quote keeps its text: better a long message than a lost one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        if _SIGNATURE.match(line) or any(pattern.match(line) for pattern in _QUOTE_HEADERS[:-1]):
            cut = index
            break
        if _QUOTE_HEADERS[-1].match(line):
            following = next((later for later in lines[index + 1:index + 4] if later.strip()), "")
            if _HEADER_BLOCK_NEXT.match(following):
                cut = index
                break
    # A two-line English header: "On Mon, 30 Nov 2026, Foo <a@b>" / "wrote:".
    if cut == len(lines):
        for index in range(len(lines) - 1):
            if re.match(r"^\s*On\b", lines[index], re.IGNORECASE) and re.match(r"^\s*wrote:\s*$", lines[index + 1]):
                cut = index
                break
    kept = [line for line in lines[:cut] if not re.match(r"^\s*[>＞]", line)]
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return result if result else text.strip()


def escape_html(text: str) -> str:
    """A plain text as the HTML part of a mail: escaped, line breaks kept."""
    return "<br>\n".join(html.escape(line) for line in text.split("\n"))
