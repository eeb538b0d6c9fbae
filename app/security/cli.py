"""``mbolo keys``: the AES-GCM keyring of MBOLO_ENCRYPTION_KEYS (new key, rotation)."""

from __future__ import annotations

import click


@click.group()
def keys() -> None:
    """Encryption keys (MBOLO_ENCRYPTION_KEYS = "id=key,id2=key2", the first one encrypts)."""


@keys.command("new")
def keys_new() -> None:
    """Print a fresh random 32-byte key (urlsafe base64): MBOLO_ENCRYPTION_KEYS=k2=$(mbolo keys new),k1=…"""
    from app.security.crypto import new_key

    click.echo(new_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the current (first) key, in one transaction.

    Put the new key first and keep the old ones after it; once this has run, the old keys can go.
    """
    from sqlalchemy.orm import Session

    from app.cli import _app  # imported here: app.cli registers this group at its end
    from app.members.cards import reencrypt_keys
    from app.platform import owner_engine
    from app.security.actor import Actor
    from app.security.crypto import DecryptionError, current_key_id
    from app.security.mfa import rotate_totp_secrets
    from migrations.runner import list_tenants
    from payments.credentials import reencrypt_credentials
    from tenants.context import tenant_scope

    app = _app()
    with app.app_context():
        actor = Actor.system("cli")
        try:
            with Session(owner_engine(app)) as session, session.begin():
                count = rotate_totp_secrets(session, actor)
                card_keys = merchant = 0
                for tenant in list_tenants(session.connection()):
                    with tenant_scope(session, tenant):
                        card_keys += reencrypt_keys(session, tenant, actor)
                        merchant += reencrypt_credentials(session, tenant, actor)
        except DecryptionError as error:
            raise click.ClickException(f"nothing changed: {error}") from error
        kid = current_key_id()
    click.echo(
        f"Re-encrypted under key {kid}: {count} TOTP secrets, {card_keys} card signing keys, "
        f"{merchant} merchant accounts"
    )


@click.group()
def admin() -> None:
    """Platform administrators: the first one, and break-glass help when nobody can sign in."""


def _with_session(work):  # type: ignore[no-untyped-def]
    """Run ``work(session, actor)`` as the ``cli`` system actor in one committed transaction."""
    from app.cli import _app
    from app.extensions import db
    from app.security.actor import Actor

    app = _app()
    with (
        app.app_context(),
        app.test_request_context(base_url=app.config.get("MBOLO_BASE_URL") or "http://localhost"),
    ):
        result = work(db.session, Actor.system("cli"))
        db.session.commit()
        return result


def _account(session, email: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.security.models import Account

    account = session.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))
    if account is None:
        raise click.ClickException(f"no account with e-mail {email}")
    return account


@admin.command("invite")
@click.argument("email")
@click.option("--name", "full_name", required=True, help="Full name of the administrator.")
def admin_invite(email: str, full_name: str) -> None:
    """Create a platform administrator and print the one-time link to choose a password."""
    from flask import url_for

    from app.errors import DomainError
    from app.security.accounts import invite_platform_admin

    def work(session, actor):  # type: ignore[no-untyped-def]
        link = invite_platform_admin(session, actor, full_name=full_name, email=email)
        return url_for("security.accept_invitation", token=link.token, _external=True), link.expires_at

    try:
        url, expires_at = _with_session(work)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(f"Invitation link (single use, until {expires_at:%Y-%m-%d %H:%M} UTC):\n{url}")


@admin.command("unlock")
@click.argument("email")
def admin_unlock(email: str) -> None:
    """Lift a sign-in lockout (audited)."""
    from app.security.services import unlock_account

    _with_session(lambda session, actor: unlock_account(session, actor, _account(session, email)))
    click.echo(f"{email}: unlocked")


@admin.command("reset-mfa")
@click.argument("email")
def admin_reset_mfa(email: str) -> None:
    """Remove an account's second factor (lost phone, no recovery code left); audited. The person enrols
    again before the next critical function."""
    from app.security.mfa import reset_mfa

    _with_session(lambda session, actor: reset_mfa(session, actor, _account(session, email)))
    click.echo(f"{email}: second factor removed")
