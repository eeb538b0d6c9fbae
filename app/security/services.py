"""Passwords (argon2id, NIST SP 800-63B policy), sign-in with progressive lockout, sessions."""

from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import DomainError, FieldError
from app.phones import normalise_phone
from app.security.actor import Actor
from app.security.events import check_threshold
from app.security.models import Account, AccountStatus, Grant, Profile
from app.security.passwords import normalise

_hasher = PasswordHasher()  # argon2id with the library's current parameters
#: Verified when the e-mail is unknown, so a wrong e-mail and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
#: Failures allowed before the account locks; each failure past it doubles the lock, up to the cap.
LOCK_AFTER_FAILURES = 5
LOCK_CAP = dt.timedelta(hours=1)


class SignInRefused(DomainError):
    pass


class AccountLocked(SignInRefused):
    def __init__(self, until: dt.datetime) -> None:
        minutes = max(1, int((until - utcnow()).total_seconds() // 60) + 1)
        super().__init__(
            _l(
                "Trop d'essais infructueux : ce compte est verrouillé. Réessayez dans %(minutes)s minute(s) "
                "ou demandez à votre administrateur de le débloquer.",
                minutes=minutes,
            )
        )
        self.until = until


def hash_password(password: str) -> str:
    return _hasher.hash(normalise(password))


def password_matches(account: Account | None, password: str) -> bool:
    """Always runs one argon2 verification, so an unknown e-mail costs the same time as a wrong password."""
    stored = account.password_hash if account is not None else None
    try:
        return _hasher.verify(stored or _DUMMY_HASH, normalise(password or "")) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def lock_duration(failures: int) -> dt.timedelta | None:
    """1 minute at the 5th failure, then 2, 4, 8… minutes, capped at an hour."""
    if failures < LOCK_AFTER_FAILURES:
        return None
    return min(dt.timedelta(minutes=2 ** (failures - LOCK_AFTER_FAILURES)), LOCK_CAP)


def find_by_login(session: Session, login: str, *, for_update: bool = False) -> Account | None:
    """The account whose e-mail or phone number (any usual spelling) is ``login``."""
    login = (login or "").strip()
    if "@" in login:
        condition = func.lower(Account.email) == login.lower()
    else:
        try:
            condition = Account.phone == normalise_phone(login)
        except FieldError:
            return None
    query = select(Account).where(condition)
    return session.scalar(query.with_for_update() if for_update else query)


def authenticate(session: Session, *, login: str, password: str, ip_address: str | None) -> Account:
    """The active account with this e-mail or phone and password; audited either way. The caller commits
    even on refusal, so failure counts and locks are kept."""
    email = (login or "").strip().lower()
    account = find_by_login(session, login, for_update=True)
    actor = Actor(account_id=account.id if account else None, label=email, ip_address=ip_address)
    now = utcnow()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        record_event(session, actor, "security.sign_in_locked", target_type="account", target_id=email)
        check_threshold(session, ip_address=ip_address, account_label=email)
        raise AccountLocked(account.locked_until)
    matches = password_matches(account, password)
    if not matches or account is None or account.status is not AccountStatus.active:
        if account is not None and account.status is AccountStatus.active:
            _count_failure(session, actor, account, now)
        record_event(session, actor, "security.sign_in_failed", target_type="account", target_id=email)
        check_threshold(session, ip_address=ip_address, account_label=email)
        raise SignInRefused(_l("Identifiant ou mot de passe incorrect."))
    if _hasher.check_needs_rehash(account.password_hash or ""):
        account.password_hash = hash_password(password)
    account.failed_sign_ins, account.locked_until, account.last_login_at = 0, None, now
    record_event(session, actor, "security.signed_in", target_type="account", target_id=account.public_id)
    return account


def _count_failure(session: Session, actor: Actor, account: Account, now: dt.datetime) -> None:
    account.failed_sign_ins += 1
    duration = lock_duration(account.failed_sign_ins)
    if duration is not None:
        account.locked_until = now + duration
        record_event(
            session, actor, "security.account_locked", target_type="account", target_id=account.public_id,
            failures=account.failed_sign_ins, minutes=int(duration.total_seconds() // 60),
        )  # fmt: skip


def unlock_account(session: Session, actor: Actor, account: Account) -> None:
    before = {"failed_sign_ins": account.failed_sign_ins, "locked_until": _iso(account.locked_until)}
    account.failed_sign_ins, account.locked_until = 0, None
    record_event(
        session, actor, "security.account_unlocked", target_type="account", target_id=account.public_id,
        before=before, after={"failed_sign_ins": 0, "locked_until": None},
    )  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def load_session_account(session: Session, session_id: str) -> Account | None:
    """Flask-Login's loader: ``<public id>.<epoch>``; an old epoch (signed out everywhere) loads nothing."""
    public_id, _, epoch = session_id.partition(".")
    account = session.scalar(select(Account).where(Account.public_id == public_id))
    if account is None or str(account.session_epoch) != epoch:
        return None
    return account


def sign_out_everywhere(session: Session, actor: Actor, account: Account) -> None:
    """Every session of the account ends at its next request (this one included, unless re-signed)."""
    session.execute(
        update(Account).where(Account.id == account.id).values(session_epoch=Account.session_epoch + 1)
    )
    session.refresh(account)
    record_event(
        session, actor, "security.signed_out_everywhere", target_type="account", target_id=account.public_id
    )


def record_sign_out(session: Session, actor: Actor) -> None:
    """Sign-outs are audited like sign-ins, so a session's whole life can be read back."""
    record_event(session, actor, "security.signed_out", target_type="account", target_id=actor.account_id)


def record_session_expired(session: Session, actor: Actor, reason: str) -> None:
    record_event(
        session, actor, "security.session_expired", target_type="account", target_id=actor.account_id,
        reason=reason,
    )  # fmt: skip


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
    """Create the account (or leave an existing one as it is) and add missing grants by profile code — for
    the demo, the tests and the first administrator (``mbolo admin create``); people are invited."""
    account = session.scalar(select(Account).where(Account.email == email.lower()))
    if account is None:
        account = Account(
            email=email.lower(),
            full_name=full_name,
            password_hash=hash_password(password),
            password_changed_at=utcnow(),
            is_platform_admin=is_platform_admin,
        )
        session.add(account)
        session.flush()
        record_event(
            session, actor, "security.account_created", target_type="account", target_id=account.public_id,
            email=account.email, platform_admin=is_platform_admin,
        )  # fmt: skip
    for node_id, profile_code in grants:
        profile = session.scalar(select(Profile).where(Profile.code == profile_code))
        if profile is None:
            raise ValueError(f"unknown profile {profile_code!r} (run mbolo db upgrade)")
        if not any(g.node_id == node_id and g.profile_id == profile.id for g in account.grants):
            account.grants.append(Grant(node_id=node_id, profile=profile, created_by_id=actor.account_id))
            session.flush()
            record_event(
                session, actor, "security.grant_added", target_type="account", target_id=account.public_id,
                after={"node_id": node_id, "profile": profile_code},
            )  # fmt: skip
    return account
