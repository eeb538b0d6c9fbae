"""``mbolo api client create | revoke | list``: API clients, from the operator's command line (audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


@click.group()
def api() -> None:
    """The /api/v1 JSON API: its OAuth 2 clients."""


@api.group()
def client() -> None:
    """API clients (client credentials): each acts with the grants of one staff account."""


def _run(work: Callable[[Any, Any], Any]) -> Any:
    """``work(session, actor)`` as the ``cli`` system actor, in one committed transaction; domain errors
    become a clean command-line error."""
    from app.cli import _app  # imported here: app.cli registers this group at its end
    from app.errors import DomainError
    from app.extensions import db
    from app.security.actor import Actor

    app = _app()
    with app.app_context():
        try:
            result = work(db.session, Actor.system("cli"))
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            field = getattr(error, "field", None)
            raise click.ClickException(
                f"{field}: {error.message}" if field else str(error.message)
            ) from error
        return result


def _grant(value: str) -> tuple[str, str]:
    node, sep, profile = value.partition("=")
    if not sep or not node.strip() or not profile.strip():
        raise click.BadParameter(f"{value!r}: NODE=PROFILE expected (e.g. MIN=supervisor)")
    return node.strip(), profile.strip()


@client.command("create")
@click.option(
    "--name", required=True, help="Short name, shown in the audit log as api:<name> (e.g. sigicmu)."
)
@click.option("--account", "email", required=True, help="E-mail of the staff account the client acts as.")
@click.option(
    "--scope",
    default="",
    help="Space-separated permissions (default: all of members.read, members.enrol, members.manage, "
    "care.check_eligibility, care.record); the account's grants still apply.",
)
@click.option("--new-account", is_flag=True, help="Create --account as a service account (no password).")
@click.option("--full-name", default="", help="With --new-account: the account's name.")
@click.option("--grant", "grants", multiple=True, help="With --new-account: NODE=PROFILE (repeatable).")
def client_create(
    name: str, email: str, scope: str, new_account: bool, full_name: str, grants: tuple[str, ...]
) -> None:
    """Create a client and print its client_id and secret (the secret is shown this once only)."""
    from app.api import services

    if grants and not new_account:
        raise click.UsageError(
            "--grant goes with --new-account (grant existing accounts from /admin/comptes)"
        )
    pairs = [_grant(g) for g in grants]

    def work(session: Any, actor: Any) -> tuple[str, str, str]:
        if new_account:
            services.create_service_account(
                session, actor, email=email, full_name=full_name or f"API {name}", grants=pairs
            )
        issued = services.create_client(session, actor, name=name, account_email=email, scope=scope)
        return issued.client.client_id, issued.secret, issued.client.scope

    client_id, secret, granted = _run(work)
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scope:         {granted}")
    click.echo("Keep the secret now: it is stored hashed and cannot be shown again.")


@client.command("revoke")
@click.argument("client_id")
def client_revoke(client_id: str) -> None:
    """Revoke a client and all its tokens, at once."""
    from app.api import services

    name = _run(lambda session, actor: services.revoke_client(session, actor, client_id).name)
    click.echo(f"{client_id} ({name}): revoked")


@client.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked clients.")
def client_list(include_revoked: bool) -> None:
    """Clients with their account, scope and last use."""
    from app.api import services

    def work(session: Any, _actor: Any) -> list[tuple[str, ...]]:
        return [
            (
                c.client_id,
                c.name,
                c.account.login_label,
                c.scope,
                f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "never",
                f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active",
            )
            for c in services.list_clients(session, include_revoked=include_revoked)
        ]

    rows = _run(work)
    if not rows:
        click.echo("No API client.")
    for row in rows:
        click.echo("  ".join(row))
