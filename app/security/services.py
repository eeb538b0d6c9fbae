"""Passwords (argon2id) and sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import DomainError
from app.security.actor import Actor
from app.security.models import Account, AccountStatus, Grant

_hasher = PasswordHasher()  # argon2id with the library's current parameters
#: Verified when the e-mail is unknown, so a wrong e-mail and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class SignInRefused(DomainError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(session: Session, *, email: str, password: str, ip_address: str | None) -> Account:
    """The active account with this e-mail and password; audited either way."""
    email = (email or "").strip().lower()
    account = session.scalar(select(Account).where(func.lower(Account.email) == email))
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password or "")
        ok = account is not None and account.status is AccountStatus.active
    except (VerificationError, InvalidHashError):
        ok = False
    actor = Actor(account_id=account.id if account else None, label=email, ip_address=ip_address)
    if not ok:
        record_event(session, actor, "security.sign_in_failed", target_type="account", target_id=email)
        raise SignInRefused(_l("E-mail ou mot de passe incorrect."))
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = utcnow()
    record_event(session, actor, "security.signed_in", target_type="account", target_id=account.public_id)
    return account


def ensure_account(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    password: str,
    is_platform_admin: bool = False,
    grants: tuple[tuple[int, str], ...] = (),
) -> Account:
    """Create the account (or leave an existing one as it is) and add missing grants — for the demo and
    the first administrator; the invitation flow of the security issue replaces it for people."""
    account = session.scalar(select(Account).where(Account.email == email.lower()))
    if account is None:
        account = Account(
            email=email.lower(),
            full_name=full_name,
            password_hash=hash_password(password),
            is_platform_admin=is_platform_admin,
        )
        session.add(account)
        session.flush()
        record_event(
            session,
            actor,
            "security.account_created",
            target_type="account",
            target_id=account.public_id,
            email=account.email,
        )
    for node_id, profile in grants:
        if not any(g.node_id == node_id and g.profile == profile for g in account.grants):
            account.grants.append(Grant(node_id=node_id, profile=profile))
            session.flush()
            record_event(
                session,
                actor,
                "security.grant_added",
                target_type="account",
                target_id=account.public_id,
                node_id=node_id,
                profile=profile,
            )
    return account


def record_sign_out(session: Session, actor: Actor) -> None:
    """Sign-outs are audited like sign-ins, so a session's whole life can be read back."""
    record_event(session, actor, "security.signed_out", target_type="account", target_id=actor.account_id)
