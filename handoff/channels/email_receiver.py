"""The e-mail channel's SMTP receiver (aiosmtpd): the shop's mail server forwards the support
address's mail here (`flask --app handoff mail serve`, MAIL_RECEIVE_HOST:MAIL_RECEIVE_PORT).

It takes mail only for the domain of MAIL_FROM (never a relay), refuses a mail over MAIL_MAX_BYTES
while it is being sent (552), and answers 250 once the mail is stored; the channel-events worker
then puts it into its conversation (handoff/channels/email.py). Keep the port on a private network
or the loopback: the shop's server is the one facing the internet.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from aiosmtpd.controller import Controller

from .email import Accepted, accept_mail, settings_of

log = logging.getLogger(__name__)


class MailHandler:
    """aiosmtpd's handler: RCPT checks the domain, DATA stores the mail."""

    def __init__(self, app):
        self.app = app
        self.domain = settings_of(app).domain

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.7.1 Relaying denied: this server takes mail for its shop's domain only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        # Storing touches the database: off the event loop, so one slow write does not stall
        # the other SMTP sessions.
        accepted = await loop.run_in_executor(None, self._accept, raw, envelope.mail_from, list(envelope.rcpt_tos))
        return accepted.smtp_reply

    def _accept(self, raw: bytes, mail_from: Optional[str], rcpt_tos: list[str]):
        try:
            with self.app.app_context():
                return accept_mail(self.app, raw, envelope_from=mail_from, envelope_to=rcpt_tos)
        except Exception:  # the database down: the sending server keeps the mail and retries (4xx)
            log.exception("storing an inbound mail failed")
            return Accepted("rejected", "451 4.3.0 Temporary failure, please try again later")


def mail_receiver(app, host: Optional[str] = None, port: Optional[int] = None) -> Controller:
    """The receiver, not yet started (controller.start() / .stop()); host and port default to
    MAIL_RECEIVE_HOST and MAIL_RECEIVE_PORT."""
    settings = settings_of(app)
    return Controller(MailHandler(app), hostname=host or app.config["MAIL_RECEIVE_HOST"],
                      port=app.config["MAIL_RECEIVE_PORT"] if port is None else port,
                      data_size_limit=settings.max_bytes, enable_SMTPUTF8=True, decode_data=False,
                      server_hostname=settings.domain or None, ready_timeout=10)
