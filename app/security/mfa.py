"""Second factor: TOTP (RFC 6238) with single-use codes, and recovery codes.

- The TOTP secret is stored encrypted (``app.security.crypto``, associated data ``totp:<account public id>``):
  a database read yields no usable secret, and a ciphertext copied onto another account does not decrypt.
- Every code is single-use: a code is accepted only for a time step later than the last one used, claimed
  by one conditional UPDATE, so two parallel submissions of one code cannot both pass.
- Consecutive failures (TOTP and recovery codes together) lock the factor: after ``MAX_FAILED_ATTEMPTS``
  for ``LOCK_MINUTES``, and again after each further failure until a success. The failure count, the lock
  and their audit events are committed on a separate short transaction, because the caller's request fails
  and rolls back (see ``verify_second_factor`` for the one exception); successes stay in the caller's
  transaction (a rolled-back success leaves the code unused).
- Recovery codes (10 characters of Crockford base32, ~50 bits) are stored as salted SHA-256 only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, delete, func, or_, select, text, update
from sqlalchemy.orm import Session, scoped_session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import DomainError
from app.security.actor import Actor
from app.security.crypto import DecryptionError, Keyring, current_key_id, decrypt, encrypt, reencrypt
from app.security.models import Account, RecoveryCode, TotpCredential

ISSUER = "Mbolo"
#: Consecutive failures before the factor locks, and how long each lock lasts.
MAX_FAILED_ATTEMPTS = 5
LOCK_MINUTES = 15
RECOVERY_CODE_COUNT = 10
#: Crockford base32: no I, L, O, U; typed "o", "i" and "l" are read as 0, 1 and 1.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_ALIASES = str.maketrans({"o": "0", "i": "1", "l": "1"})
_RECOVERY_FORM = re.compile(rf"[{_RECOVERY_ALPHABET}]{{10}}")
_TOTP_FORM = re.compile(r"\d{6}")
#: A failure's bookkeeping waits at most this long for a lock (never forever, whatever the caller holds).
_SIDE_LOCK_TIMEOUT = "10s"


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code, and the secret for typing it in by hand."""

    secret_b32: str
    provisioning_uri: str
    qr_svg_data_uri: str


class AlreadyEnrolled(DomainError):
    """A confirmed factor exists: replacing it is a reset (``reset_mfa``), a critical function."""


class NotEnrolled(DomainError):
    pass


class SecondFactorRefused(DomainError):
    pass


class SecondFactorLocked(SecondFactorRefused):
    def __init__(self, until: dt.datetime, now: dt.datetime | None = None) -> None:
        minutes = max(1, math.ceil((until - (now or utcnow())).total_seconds() / 60))
        super().__init__(
            _l(
                "Trop de codes incorrects : la double authentification est bloquée. "
                "Réessayez dans %(minutes)s minute(s).",
                minutes=minutes,
            )
        )
        self.until = until


def _aad(account: Account | str) -> bytes:
    public_id = account if isinstance(account, str) else account.public_id
    return f"totp:{public_id}".encode()


def _credential(session: Session, account: Account) -> TotpCredential | None:
    """The account's credential as the database has it now (a failure may have been committed aside)."""
    return session.scalar(
        select(TotpCredential)
        .where(TotpCredential.account_id == account.id)
        .execution_options(populate_existing=True)
    )


def _confirmed_credential(session: Session, account: Account) -> TotpCredential:
    credential = _credential(session, account)
    if credential is None or credential.confirmed_at is None:
        raise NotEnrolled(_l("La double authentification n'est pas activée pour ce compte."))
    return credential


def totp_secret(credential: TotpCredential, account: Account, *, keys: Keyring | None = None) -> str:
    """The base32 secret (decrypted with the account's associated data)."""
    return decrypt(credential.secret_ciphertext, aad=_aad(account), keys=keys).decode("ascii")


def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (previous, current or next: 30 s of clock drift either way) whose code is ``code``."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now.timestamp()))
    matched = None
    for step in (current - 1, current, current + 1):  # all three, so timing says nothing about which
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return matched


def _claim_step(session: Session, credential: TotpCredential, step: int, now: dt.datetime) -> bool:
    """Atomically mark ``step`` used: False if it (or a later one) already was, or the factor is locked.

    In a savepoint: an UPDATE that waited for a parallel claim of the same step keeps the row locked even
    though it changes nothing; rolling the savepoint back releases that lock, so the failure's bookkeeping
    (on another connection) does not wait for this transaction to end.
    """
    table = TotpCredential.__table__
    savepoint = session.begin_nested()
    claimed = session.execute(
        update(table)
        .where(
            table.c.id == credential.id,
            or_(table.c.last_used_step.is_(None), table.c.last_used_step < step),
            or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .values(last_used_step=step, failed_attempts=0, locked_until=None)
        .returning(table.c.id)
    ).first()
    if claimed is None:
        savepoint.rollback()
    else:
        savepoint.commit()
    session.expire(credential)
    return claimed is not None


def _holds_advisory_lock(session: Session) -> bool:
    """True if the caller's transaction holds an advisory lock (the audit chain's, once it has written an
    event): a separate transaction appending to the same chain would wait for it forever."""
    own = session() if isinstance(session, scoped_session) else session  # Flask-SQLAlchemy's proxy
    if not own.in_transaction():
        return False
    return bool(
        session.connection().scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks"
                " WHERE pid = pg_backend_pid() AND locktype = 'advisory')"
            )
        )
    )


@contextmanager
def _failure_transaction(session: Session) -> Iterator[Session]:
    """Where a failure is written: a short transaction of its own, committed whatever the caller does
    next; or, if the caller has already written audit events (and holds the chain's lock), the caller's
    transaction, which must then be committed although the request fails (the views do)."""
    if _holds_advisory_lock(session):
        yield session
        session.flush()
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with Session(engine) as side, side.begin():
        if "mbolo_audit_key" in session.info:  # a caller outside Flask gave the audit key this way
            side.info["mbolo_audit_key"] = session.info["mbolo_audit_key"]
        side.execute(text(f"SET LOCAL lock_timeout = '{_SIDE_LOCK_TIMEOUT}'"))
        yield side


def _record_failure(
    session: Session,
    actor: Actor,
    account: Account,
    credential: TotpCredential,
    now: dt.datetime,
    reason: str,
) -> dt.datetime | None:
    """Count one failure (committed at once), lock at the threshold; the lock's end, if it locked."""
    table = TotpCredential.__table__
    until = now + dt.timedelta(minutes=LOCK_MINUTES)
    with _failure_transaction(session) as side:
        row = side.execute(
            update(table)
            .where(table.c.id == credential.id)
            .values(failed_attempts=table.c.failed_attempts + 1)
            .returning(table.c.failed_attempts)
        ).first()
        attempts = row.failed_attempts if row else 0
        locked = attempts >= MAX_FAILED_ATTEMPTS
        if locked:
            side.execute(update(table).where(table.c.id == credential.id).values(locked_until=until))
        target = {"target_type": "account", "target_id": account.public_id}
        record_event(side, actor, "security.stepup_failed", **target, reason=reason, attempts=attempts)
        if locked:
            record_event(
                side, actor, "security.stepup_locked", **target, attempts=attempts, until=until.isoformat()
            )
    session.expire(credential)
    return until if locked else None


def _recovery_hash(account: Account, code: str) -> str:
    """Salted with the account, so one table of precomputed hashes cannot serve every account."""
    return hashlib.sha256(f"mbolo-recovery:{account.public_id}:{code}".encode()).hexdigest()


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[\s-]+", "", code).lower().translate(_RECOVERY_ALIASES)


def _new_recovery_codes(session: Session, account: Account) -> list[str]:
    """Replace the account's recovery codes; the clear codes are returned once, never stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(account_id=account.id, code_hash=_recovery_hash(account, raw)))
    session.flush()
    return codes


def start_enrolment(
    session: Session, account: Account, *, actor: Actor | None = None, keys: Keyring | None = None
) -> Enrolment:
    """Create (or replace) the account's unconfirmed TOTP secret and return what the user scans."""
    credential = _credential(session, account)
    if credential is not None and credential.confirmed_at is not None:
        raise AlreadyEnrolled(
            _l(
                "La double authentification est déjà active. Pour changer de téléphone, "
                "demandez sa réinitialisation."
            )
        )
    secret = pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends
    ciphertext = encrypt(secret.encode("ascii"), aad=_aad(account), keys=keys)
    if credential is None:
        credential = TotpCredential(account=account, secret_ciphertext=ciphertext)
        session.add(credential)
    else:
        credential.secret_ciphertext, credential.created_at = ciphertext, utcnow()
        credential.last_used_step, credential.failed_attempts, credential.locked_until = None, 0, None
    session.flush()
    record_event(
        session,
        actor or Actor(account_id=account.id, label=account.login_label),
        "security.mfa_enrolment_started",
        target_type="account",
        target_id=account.public_id,
    )
    return _enrolment(account, secret)


def _enrolment(account: Account, secret: str) -> Enrolment:
    """The QR code is an SVG data URI: no script, no external call, one request less."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.login_label, issuer_name=ISSUER)
    return Enrolment(
        secret_b32=secret,
        provisioning_uri=uri,
        qr_svg_data_uri=segno.make(uri, error="m").svg_data_uri(scale=4),
    )


def current_enrolment(session: Session, account: Account, *, keys: Keyring | None = None) -> Enrolment | None:
    """The pending (unconfirmed) enrolment, to show its QR code again after a wrong code; None if there
    is none or the factor is already on."""
    credential = _credential(session, account)
    if credential is None or credential.confirmed_at is not None:
        return None
    return _enrolment(account, totp_secret(credential, account, keys=keys))


def confirm_enrolment(
    session: Session,
    actor: Actor,
    account: Account,
    code: str,
    *,
    now: dt.datetime | None = None,
    keys: Keyring | None = None,
) -> list[str]:
    """The first valid code turns the factor on; returns the recovery codes, shown once."""
    now = now or utcnow()
    credential = _credential(session, account)
    if credential is None:
        raise NotEnrolled(_l("Commencez par scanner le QR code de la page d'activation."))
    if credential.confirmed_at is not None:
        raise AlreadyEnrolled(_l("La double authentification est déjà active."))
    cleaned = "".join((code or "").split())
    step = _matching_step(totp_secret(credential, account, keys=keys), cleaned, now)
    if not _TOTP_FORM.fullmatch(cleaned) or step is None or not _claim_step(session, credential, step, now):
        raise SecondFactorRefused(
            _l(
                "Code incorrect. Vérifiez que l'heure du téléphone est juste et saisissez le code "
                "affiché maintenant."
            )
        )
    credential.confirmed_at = now
    codes = _new_recovery_codes(session, account)
    record_event(session, actor, "security.mfa_enrolled", target_type="account", target_id=account.public_id)
    return codes


def verify_second_factor(
    session: Session,
    actor: Actor,
    account: Account,
    code: str,
    *,
    now: dt.datetime | None = None,
    keys: Keyring | None = None,
) -> str:
    """Check a TOTP code (6 digits) or a recovery code; ``"totp"`` or ``"recovery"``, else raise.

    A success is written in the caller's transaction (the caller commits it). A failure is committed at
    once on its own transaction, except when the caller's transaction has already written audit events
    (it holds the chain's lock): then it is written in the caller's transaction, which must be committed
    although the code was refused. Committing after a refusal is always right, so views simply do it.
    """
    now = now or utcnow()
    credential = _confirmed_credential(session, account)
    target = {"target_type": "account", "target_id": account.public_id}
    if credential.locked_until is not None and credential.locked_until > now:
        until = credential.locked_until
        with _failure_transaction(session) as side:
            record_event(side, actor, "security.stepup_failed", **target, reason="locked")
        raise SecondFactorLocked(until, now)
    cleaned = "".join((code or "").split())
    if _TOTP_FORM.fullmatch(cleaned):
        step = _matching_step(totp_secret(credential, account, keys=keys), cleaned, now)
        if step is not None and _claim_step(session, credential, step, now):
            record_event(session, actor, "security.stepup_passed", **target, method="totp")
            return "totp"
        reason = "wrong_code" if step is None else "code_reused"
    elif _RECOVERY_FORM.fullmatch(recovery := _normalise_recovery(cleaned)):
        if _use_recovery_code(session, account, credential, recovery, now):
            remaining = remaining_recovery_codes(session, account)
            record_event(session, actor, "security.recovery_code_used", **target, remaining=remaining)
            return "recovery"
        reason = "wrong_recovery_code"
    else:
        reason = "malformed"
    until = _record_failure(session, actor, account, credential, now, reason)
    if until is not None:
        raise SecondFactorLocked(until, now)
    if reason == "code_reused":
        raise SecondFactorRefused(_l("Ce code a déjà servi. Attendez le suivant (30 secondes au plus)."))
    raise SecondFactorRefused(_l("Code incorrect."))


def _use_recovery_code(
    session: Session, account: Account, credential: TotpCredential, code: str, now: dt.datetime
) -> bool:
    """Consume one unused recovery code atomically (two parallel uses: one wins)."""
    codes = RecoveryCode.__table__
    used = session.execute(
        update(codes)
        .where(
            codes.c.account_id == account.id,
            codes.c.code_hash == _recovery_hash(account, code),
            codes.c.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(codes.c.id)
    ).first()
    if used is None:
        return False
    table = TotpCredential.__table__
    session.execute(
        update(table)
        .where(
            table.c.id == credential.id, or_(table.c.failed_attempts > 0, table.c.locked_until.isnot(None))
        )
        .values(failed_attempts=0, locked_until=None)
    )
    session.expire(credential)
    return True


def regenerate_recovery_codes(session: Session, actor: Actor, account: Account) -> list[str]:
    """New recovery codes; the old ones stop working at once."""
    _confirmed_credential(session, account)
    codes = _new_recovery_codes(session, account)
    record_event(
        session,
        actor,
        "security.recovery_codes_regenerated",
        target_type="account",
        target_id=account.public_id,
    )
    return codes


def remaining_recovery_codes(session: Session, account: Account) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


def reset_mfa(session: Session, actor: Actor, account: Account) -> None:
    """Remove the TOTP secret and the recovery codes (a lost phone); the account enrols again."""
    codes = session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id)).rowcount
    had_totp = session.execute(delete(TotpCredential).where(TotpCredential.account_id == account.id)).rowcount
    session.expire(account, ["totp"])
    record_event(
        session,
        actor,
        "security.mfa_reset",
        target_type="account",
        target_id=account.public_id,
        had_totp=bool(had_totp),
        recovery_codes_deleted=codes,
    )


def rotate_totp_secrets(session: Session, actor: Actor, *, keys: Keyring | None = None) -> int:
    """Re-encrypt every TOTP secret that is not under the current key; how many were."""
    kid = current_key_id(keys)
    rows = session.execute(
        select(TotpCredential, Account.public_id)
        .join(Account, Account.id == TotpCredential.account_id)
        .where(~TotpCredential.secret_ciphertext.startswith(f"{kid}:", autoescape=True))
        .order_by(TotpCredential.id)
        .with_for_update(of=TotpCredential)
    ).all()
    for credential, public_id in rows:
        try:
            credential.secret_ciphertext = reencrypt(
                credential.secret_ciphertext, aad=_aad(public_id), keys=keys
            )
        except DecryptionError as error:
            raise DecryptionError(f"TOTP secret of account {public_id}: {error}") from error
    session.flush()
    record_event(session, actor, "security.keys_rotated", count=len(rows), key_id=kid)
    return len(rows)
