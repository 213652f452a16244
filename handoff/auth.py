"""Who may do what: customer tokens (one conversation each), agent sessions, roles and CSRF."""
from __future__ import annotations

import functools
import hmac
import secrets
from typing import Optional

from flask import current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import Forbidden, Unauthorized

ROLES = ("agent", "editor", "admin")  # each role can do everything the ones before it can
_TOKEN_SALT = "tsunagi.conversation-token"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def issue_customer_token(conversation_id: str) -> str:
    return _serializer().dumps(conversation_id)


def customer_token_from_request() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    # Never from the URL (URLs are logged): the stream, which EventSource opens without headers,
    # takes a single-use stream ticket instead (handoff/stream_tickets.py).
    return None


def require_customer(conversation_id: str) -> None:
    """The request's token must have been issued for this very conversation."""
    token = customer_token_from_request()
    if not token:
        raise Unauthorized("token_required", "Send the conversation token as 'Authorization: Bearer <token>'.")
    try:
        granted = _serializer().loads(token, max_age=current_app.config["CUSTOMER_TOKEN_MAX_AGE"])
    except SignatureExpired:
        raise Unauthorized("token_expired", "The conversation token has expired; start a new conversation.")
    except BadSignature:
        raise Unauthorized("token_invalid", "The conversation token is not valid.")
    if not hmac.compare_digest(str(granted).encode(), conversation_id.encode()):
        raise Forbidden("token_mismatch", "This token opens another conversation.")


# Agents

class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS: directly, or through a
    trusted proxy's X-Forwarded-Proto (ProxyFix, TRUSTED_PROXIES > 0, sets the request's scheme);
    an untrusted client's header changes nothing. SESSION_COOKIE_SECURE forces it on always."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


def log_in(agent) -> str:
    session.clear()
    session["agent_id"] = agent.id
    session["epoch"] = agent.session_epoch  # the session ends when the account's epoch moves on
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    return session["csrf"]


def log_out() -> None:
    session.clear()


def csrf_token() -> Optional[str]:
    return session.get("csrf")


def ensure_csrf_token() -> str:
    """The session's CSRF token, created when missing: the sign-in form carries it so another
    site cannot sign a victim into an account of its choosing (login CSRF)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Writes must echo the session's CSRF token in X-CSRF-Token: a forged cross-site form cannot."""
    expected = session.get("csrf")
    sent = request.headers.get("X-CSRF-Token", "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden("csrf_failed", "Missing or wrong X-CSRF-Token header.")


def has_role(agent, role: str) -> bool:
    return ROLES.index(agent.role) >= ROLES.index(role)


def signed_in_agent():
    """The session's agent while the account is active and the session current, else None."""
    from .agents import load_agent

    agent_id = session.get("agent_id")
    return load_agent(agent_id, session.get("epoch", 0)) if agent_id is not None else None


def agent_required(role: str = "agent", while_password_change: bool = False):
    """Loads the logged-in, active agent into g.agent; 401 without a (current) session, 403 without
    the role, and 403 password_change_required after a reset, except on the views marked
    while_password_change (changing the password, logging out)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            agent = signed_in_agent()
            if agent is None:
                raise Unauthorized("login_required", "Log in as an agent first.")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                check_csrf()
            if agent.must_change_password and not while_password_change:
                raise Forbidden("password_change_required",
                                "Choose a new password first: POST /api/agent/password.")
            if not has_role(agent, role):
                raise Forbidden("role_required", f"This needs the {role} role.")
            g.agent = agent
            return view(*args, **kwargs)
        return wrapped
    return decorate
