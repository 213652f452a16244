"""Command line: `flask --app handoff db-upgrade`, `flask --app handoff agents create|list|deactivate|
reactivate|reset-password|set-role ...` and `flask --app handoff mail serve` (the e-mail receiver)."""
from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .audit import OUTSIDE_ACTIONS
from .auth import ROLES


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision` with the Alembic migrations in handoff/migrations."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, revision)


def register_commands(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    @click.option("--revision", default="head", show_default=True)
    def db_upgrade(revision):
        """Create or migrate the database schema."""
        migrate(current_app.config["DATABASE_URL"], revision)
        click.echo(f"database at {revision}")

    agents = AppGroup("agents", help="Manage agent accounts.")

    @agents.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--max-concurrent", type=int, default=None, help="Overrides AGENT_MAX_CONCURRENT for this agent.")
    def create(email, name, role, password, max_concurrent):
        """Create an agent account (the password is stored hashed)."""
        from .agents import create_agent
        from .audit import Actor
        from .errors import ApiError

        try:
            with current_app.extensions["tsunagi"].db.writing() as session:
                agent = create_agent(session, email, name, role, password, max_concurrent, actor=Actor.command_line())
        except ApiError as error:
            raise click.ClickException(error.message)
        click.echo(f"agent {agent.id} {agent.email} ({agent.role}) created")

    @agents.command("list")
    @click.option("--all", "everyone", is_flag=True, help="Deactivated accounts too.")
    def list_command(everyone):
        """List active agents (--all: deactivated ones too)."""
        from .agents import list_agents, list_all_agents

        with current_app.extensions["tsunagi"].db.reading() as session:
            for agent in (list_all_agents if everyone else list_agents)(session):
                state = "" if agent.active else "\tdeactivated"
                click.echo(f"{agent.id}\t{agent.email}\t{agent.name}\t{agent.role}{state}")

    def account_change(change):
        """Runs change(session, agent, actor) on the agent named by id or e-mail, in one transaction
        with its audit entry (actor: cli:<OS user>); an ApiError becomes a clean CLI error."""
        from .agents import find_agent
        from .audit import Actor
        from .errors import ApiError

        def run(who, *args):
            try:
                with current_app.extensions["tsunagi"].db.writing() as session:
                    agent = find_agent(session, who)
                    return agent, change(session, agent, Actor.command_line(), *args)
            except ApiError as error:
                raise click.ClickException(error.message)
        return run

    @agents.command("deactivate")
    @click.argument("agent")
    def deactivate_command(agent):
        """Deactivate AGENT (id or e-mail): their sessions end, their conversations go back to the queue."""
        from .agents import deactivate

        found, requeued = account_change(deactivate)(agent)
        click.echo(f"agent {found.id} {found.email} deactivated; {requeued} conversation(s) back in the queue")

    @agents.command("reactivate")
    @click.argument("agent")
    def reactivate_command(agent):
        """Reactivate AGENT (id or e-mail)."""
        from .agents import reactivate

        found, _ = account_change(reactivate)(agent)
        click.echo(f"agent {found.id} {found.email} reactivated")

    @agents.command("reset-password")
    @click.argument("agent")
    @click.option("--password", default=None, help="The new password; omitted: a temporary one is printed once. "
                                                   "Either way it must be changed at next sign-in.")
    def reset_password_command(agent, password):
        """Reset AGENT's password (id or e-mail); their sessions end."""
        from .agents import reset_password

        found, temporary = account_change(reset_password)(agent, password)
        click.echo(f"agent {found.id} {found.email}: password reset; it must be changed at next sign-in")
        if temporary:
            click.echo(f"temporary password: {temporary}")

    @agents.command("set-role")
    @click.argument("agent")
    @click.argument("role", type=click.Choice(ROLES))
    def set_role_command(agent, role):
        """Give AGENT (id or e-mail) another ROLE, effective at their next request."""
        from .agents import set_role

        found, _ = account_change(set_role)(agent, role)
        click.echo(f"agent {found.id} {found.email} is now {found.role}")

    app.cli.add_command(agents)

    audit = AppGroup("audit", help="The audit log of staff actions.")

    @audit.command("record")
    @click.argument("action", type=click.Choice(OUTSIDE_ACTIONS))
    @click.option("--live-record", type=click.Path(dir_okay=False), default=None,
                  help="models/live.json: the model now live becomes the entry's target.")
    def record_command(action, live_record):
        """Record ACTION, done outside the service (make publish, make rollback), as cli:<OS user>."""
        import json

        from .audit import Actor, new_entry

        target, detail = None, {}
        if live_record:
            try:
                with open(live_record, encoding="utf-8") as handle:
                    live = (json.load(handle) or {}).get("live") or {}
            except (OSError, ValueError) as error:
                raise click.ClickException(f"cannot read {live_record}: {error}")
            target = live.get("model")
            detail = {key: live[key] for key in ("since", "action") if live.get(key) is not None}
        with current_app.extensions["tsunagi"].db.writing() as session:
            session.add(new_entry(Actor.command_line(), action, "model" if target else None, target, detail))
        click.echo(f"recorded {action}" + (f" ({target})" if target else ""))

    app.cli.add_command(audit)

    mail = AppGroup("mail", help="The e-mail channel (handoff/channels/email.py).")

    @mail.command("serve")
    def mail_serve_command():
        """Receive the mail the shop's server forwards (SMTP on MAIL_RECEIVE_HOST:MAIL_RECEIVE_PORT)
        until stopped; the stored mail is put into conversations by the channel workers."""
        import signal
        import threading

        from .channels.email import settings_of
        from .channels.email_receiver import mail_receiver

        config = current_app.config
        if not config["MAIL_RECEIVE_PORT"] or not settings_of(current_app).configured:
            click.echo("mail serve: MAIL_RECEIVE_PORT, SMTP_URL or MAIL_FROM is not set; nothing to receive")
            return
        app = current_app._get_current_object()
        receiver = mail_receiver(app)
        receiver.start()
        click.echo(f"mail serve: receiving mail for @{settings_of(app).domain} on "
                   f"{config['MAIL_RECEIVE_HOST']}:{config['MAIL_RECEIVE_PORT']}")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        receiver.stop()
        workers = app.extensions.get("tsunagi_channels")
        if workers is not None:
            workers.stop()

    app.cli.add_command(mail)
    contacts = AppGroup("contacts", help="Known customers: export or erase everything held about one (APPI, GDPR).")

    def find_contact(session, who: str):
        """By contact id, shop customer id or any linked address (an e-mail ...)."""
        from sqlalchemy import select

        from .contacts import contact_by_identity, get_contact
        from .models import Contact

        text = who.strip()
        found = session.scalar(select(Contact).where(Contact.shop_customer_id == text))
        for kind in ("email", "line", "phone"):
            found = found or contact_by_identity(session, kind, text)
        if found is None and text.isdigit():
            found = get_contact(session, int(text))
        if found is None:
            raise click.ClickException(f"no contact {text}")
        return found

    @contacts.command("export")
    @click.argument("contact")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Write the JSON to this file (created readable by its owner only); default: standard output.")
    def export_command(contact, output):
        """Export everything held about CONTACT (contact id, shop customer id or e-mail) as JSON."""
        import json

        from .audit import Actor
        from .errors import ApiError
        from .privacy import export_contact

        try:
            with current_app.extensions["tsunagi"].db.writing() as session:
                exported = export_contact(session, find_contact(session, contact).id, Actor.command_line())
        except ApiError as error:
            raise click.ClickException(error.message)
        text = json.dumps(exported, ensure_ascii=False, indent=2)
        if output is None:
            click.echo(text)
            return
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(f"contact {exported['contact']['id']}: {len(exported['conversations'])} conversation(s) "
                   f"written to {output}", err=True)

    @contacts.command("erase")
    @click.argument("contact")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def erase_command(contact, yes):
        """Erase CONTACT (contact id, shop customer id or e-mail): transcripts, addresses, notes.
        KPI totals stay; the erasure is recorded in the audit log as cli:<OS user>."""
        from .audit import Actor
        from .errors import ApiError
        from .privacy import erase_contact

        if not yes:
            click.confirm(f"Erase everything held about {contact}? This cannot be undone", abort=True)
        try:
            with current_app.extensions["tsunagi"].db.writing() as session:
                erasure = erase_contact(session, find_contact(session, contact).id, Actor.command_line())
        except ApiError as error:
            raise click.ClickException(error.message)
        click.echo(f"contact {erasure.contact_id} erased; {erasure.conversations} conversation(s) emptied")

    app.cli.add_command(contacts)

    privacy = AppGroup("privacy", help="Data retention (RETENTION_DAYS).")

    @privacy.command("purge")
    @click.option("--days", type=int, default=None, help="Overrides RETENTION_DAYS for this run.")
    def purge_command(days):
        """Erase conversations that ended more than RETENTION_DAYS ago, and contacts left with none.
        Run it daily (cron or a supervisor); safe to run twice or from several hosts at once."""
        from .audit import Actor
        from .privacy import purge_expired

        retention = current_app.config["RETENTION_DAYS"] if days is None else days
        if retention <= 0:
            click.echo("RETENTION_DAYS is not set: everything is kept; nothing to purge")
            return
        done = purge_expired(current_app.extensions["tsunagi"].db, retention, Actor.command_line())
        click.echo(f"retention {retention} days: {done['conversations']} conversation(s) and "
                   f"{done['contacts']} contact(s) erased")

    app.cli.add_command(privacy)
