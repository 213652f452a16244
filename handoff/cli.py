"""Command line: `flask --app handoff db-upgrade` and `flask --app handoff agents ...`."""
from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup


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
    @click.option("--role", type=click.Choice(["agent", "editor", "admin"]), default="agent", show_default=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--max-concurrent", type=int, default=None, help="Overrides AGENT_MAX_CONCURRENT for this agent.")
    def create(email, name, role, password, max_concurrent):
        """Create an agent account (the password is stored hashed)."""
        from .agents import create_agent
        from .errors import ApiError

        try:
            with current_app.extensions["tsunagi"].db.writing() as session:
                agent = create_agent(session, email, name, role, password, max_concurrent)
        except ApiError as error:
            raise click.ClickException(error.message)
        click.echo(f"agent {agent.id} {agent.email} ({agent.role}) created")

    @agents.command("list")
    def list_command():
        """List active agents."""
        from .agents import list_agents

        with current_app.extensions["tsunagi"].db.reading() as session:
            for agent in list_agents(session):
                click.echo(f"{agent.id}\t{agent.email}\t{agent.name}\t{agent.role}")

    app.cli.add_command(agents)
