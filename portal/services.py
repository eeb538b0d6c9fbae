"""Member sign-in to the portal: one-time codes by SMS, the optional password, activation, and what of the
household a signed-in member may see.

Answers never tell whether a number exists: an unknown number, a minor's, a member who left and a wrong
code all read the same to the person typing. Codes are 6 digits, kept as a keyed hash (HMAC-SHA256 with
the application's secret: a database dump alone does not give them away), valid 10 minutes, 5 tries,
single use (accepted by a conditional UPDATE, so two requests racing with the same code cannot both win);
asking for a new code revokes the previous one.

Who may sign in: the adhérent and adult ayants droit (18 or over), each with their own number. Minors do
not sign in: their rights and card are in the adhérent's space. Members who left or died do not sign in.
What they see: the adhérent sees the whole household; an adult ayant droit sees themself only, unless the
adhérent chose to share the household (then all of it, cotisations and payment included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event
from app.database import utcnow
from app.errors import DomainError, FieldError
from app.members import numbers
from app.members.models import Member, MemberStatus
from app.members.services import household_of
from app.security.actor import Actor
from app.security.passwords import check_password, normalise
from portal.models import PortalAccess, SignInCode
from tenants.context import TenantRef

CODE_DIGITS, CODE_MINUTES, CODE_TRIES = 6, 10, 5
ADULT_AGE = 18
#: Wrong passwords in a row before the password is refused until the member signs in with a code.
PASSWORD_TRIES = 5
SIGNED_OUT_STATUSES = (MemberStatus.left, MemberStatus.deceased)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")
REFUSED = _l("Numéro ou code incorrect, ou code expiré. Vérifiez-les, ou demandez un nouveau code.")
PASSWORD_REFUSED = _l(
    "Numéro ou mot de passe incorrect. Vous pouvez aussi vous connecter avec un code reçu par SMS."
)


class SignInRefused(DomainError):
    pass


def portal_actor(label: str = "portail", ip_address: str | None = None) -> Actor:
    """The portal acting before anyone is signed in (codes sent, refusals recorded)."""
    return Actor(account_id=None, label=label, ip_address=ip_address)


def find_member(session: Session, raw_number: str) -> Member | None:
    """The member with this number in any usual spelling ("art 004512 00 c"), or None."""
    parsed = numbers.parse(raw_number or "")
    if parsed is None:
        return None
    return session.scalar(select(Member).where(Member.number == str(parsed)))


def age_on(member: Member, day: dt.date) -> int:
    if member.birth_date is None:
        return day.year - member.birth_year
    born = member.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def may_sign_in(member: Member, day: dt.date | None = None) -> bool:
    """The adhérent and adult ayants droit, while still members."""
    if member.status in SIGNED_OUT_STATUSES:
        return False
    return member.is_principal or age_on(member, day or clock.today()) >= ADULT_AGE


def _code_hash(member_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"portal-code:{member_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _masked(raw: str) -> str:
    """What the audit keeps of a number typed that matched nobody (no free text in the log)."""
    return numbers.compact(raw)[:24]


def request_code(session: Session, tenant: TenantRef, raw_number: str, ip_address: str | None) -> bool:
    """Send a new code by SMS if the number belongs to someone who may sign in (True), else nothing (False);
    the caller says the same thing either way."""
    from notifications.services import notify

    actor = portal_actor(ip_address=ip_address)
    member = find_member(session, raw_number)
    if member is None or not may_sign_in(member):
        record_event(
            session, actor, "portal.code_refused", target_type="member",
            target_id=member.number if member else _masked(raw_number), tenant_slug=tenant.slug,
            outcome="failure", reason="unknown" if member is None else "not_allowed",
        )  # fmt: skip
        return False
    if not (member.phone or (member.principal is not None and member.principal.phone)):
        record_event(session, actor, "portal.code_refused", target_type="member", target_id=member.number,
                     tenant_slug=tenant.slug, outcome="failure", reason="no_phone")  # fmt: skip
        return False
    now = utcnow()
    session.execute(
        update(SignInCode)
        .where(
            SignInCode.member_id == member.id, SignInCode.used_at.is_(None), SignInCode.revoked_at.is_(None)
        )
        .values(revoked_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    session.add(
        SignInCode(
            member_id=member.id, code_hash=_code_hash(member.id, code), created_at=now,
            expires_at=now + dt.timedelta(minutes=CODE_MINUTES), attempts=0, requested_ip=ip_address,
        )
    )  # fmt: skip
    session.flush()
    notify(session, tenant, actor, event="portal.sign_in_code", member=member,
           context={"code": code, "minutes": CODE_MINUTES})  # fmt: skip
    record_event(session, actor, "portal.code_sent", target_type="member", target_id=member.number,
                 tenant_slug=tenant.slug)  # fmt: skip
    return True


def _refuse(session: Session, actor: Actor, tenant: TenantRef, target: str, reason: str) -> SignInRefused:
    record_event(session, actor, "portal.sign_in_refused", target_type="member", target_id=target,
                 tenant_slug=tenant.slug, outcome="failure", reason=reason)  # fmt: skip
    return SignInRefused(REFUSED)


def sign_in_with_code(
    session: Session, tenant: TenantRef, raw_number: str, code: str, ip_address: str | None
) -> tuple[Member, int]:
    """The member and their session epoch if ``code`` is their live code; raises ``SignInRefused``. The
    caller commits even on refusal (the try is counted)."""
    actor = portal_actor(ip_address=ip_address)
    member = find_member(session, raw_number)
    code = "".join((code or "").split())
    if member is None or not may_sign_in(member):
        raise _refuse(session, actor, tenant, member.number if member else _masked(raw_number), "unknown")
    now = utcnow()
    live = (
        SignInCode.member_id == member.id,
        SignInCode.used_at.is_(None),
        SignInCode.revoked_at.is_(None),
        SignInCode.expires_at > now,
    )
    latest = session.scalar(select(SignInCode.id).where(*live).order_by(SignInCode.id.desc()).limit(1))
    # Count the try first, and only while tries are left: a wrong code costs one try even when two
    # requests race, and the sixth try finds nothing to count.
    counted = (
        session.execute(
            update(SignInCode)
            .where(SignInCode.id == latest, *live, SignInCode.attempts < CODE_TRIES)
            .values(attempts=SignInCode.attempts + 1)
            .returning(SignInCode.code_hash)
        ).scalar_one_or_none()
        if latest is not None
        else None
    )
    if counted is None:
        raise _refuse(session, actor, tenant, member.number, "no_live_code")
    if not (code.isdigit() and hmac.compare_digest(counted, _code_hash(member.id, code))):
        raise _refuse(session, actor, tenant, member.number, "wrong_code")
    used = session.execute(
        update(SignInCode).where(SignInCode.id == latest, *live).values(used_at=now).returning(SignInCode.id)
    ).scalar_one_or_none()
    if used is None:  # another request used it between the two statements
        raise _refuse(session, actor, tenant, member.number, "replayed")
    access = _activate(session, tenant, member, ip_address)
    access.failed_passwords = 0  # a code proves the phone: the password may be tried again
    return member, access.session_epoch


def _activate(session: Session, tenant: TenantRef, member: Member, ip_address: str | None) -> PortalAccess:
    """The member's portal access; created (activation: recorded and welcomed) on the first sign-in."""
    from notifications.services import notify

    created = session.execute(
        insert(PortalAccess)
        .values(
            member_id=member.id,
            activated_at=utcnow(),
            session_epoch=0,
            share_household=False,
            failed_passwords=0,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["member_id"])
        .returning(PortalAccess.id)
    ).scalar_one_or_none()
    access = session.scalar(select(PortalAccess).where(PortalAccess.member_id == member.id))
    assert access is not None
    actor = member_actor_for(member, ip_address)
    if created is not None:
        record_event(session, actor, "portal.activated", target_type="member", target_id=member.number,
                     tenant_slug=tenant.slug)  # fmt: skip
        notify(session, tenant, actor, event="portal.welcome", member=member, context={})
    access.last_sign_in_at = utcnow()
    record_event(session, actor, "portal.signed_in", target_type="member", target_id=member.number,
                 tenant_slug=tenant.slug)  # fmt: skip
    return access


def member_actor_for(member: Member, ip_address: str | None = None) -> Actor:
    return Actor(account_id=None, label=f"adhérent {member.number}", ip_address=ip_address)


def sign_in_with_password(
    session: Session, tenant: TenantRef, raw_number: str, password: str, ip_address: str | None
) -> tuple[Member, int]:
    """For members who chose a password. Always one argon2 verification (no timing tells a number exists);
    after ``PASSWORD_TRIES`` wrong ones the password waits for a code sign-in."""
    actor = portal_actor(ip_address=ip_address)
    member = find_member(session, raw_number)
    access = None
    if member is not None and may_sign_in(member):
        access = session.scalar(
            select(PortalAccess).where(PortalAccess.member_id == member.id).with_for_update()
        )
    stored = access.password_hash if access is not None else None
    try:
        matches = _hasher.verify(stored or _DUMMY_HASH, normalise(password or "")) and stored is not None
    except (VerificationError, InvalidHashError):
        matches = False
    target = member.number if member else _masked(raw_number)
    if access is None or not matches or access.failed_passwords >= PASSWORD_TRIES:
        if access is not None and not matches:
            access.failed_passwords += 1
        record_event(session, actor, "portal.sign_in_refused", target_type="member", target_id=target,
                     tenant_slug=tenant.slug, outcome="failure", reason="password")  # fmt: skip
        raise SignInRefused(PASSWORD_REFUSED)
    assert member is not None
    access.failed_passwords = 0
    access = _activate(session, tenant, member, ip_address)
    return member, access.session_epoch


def access_of(session: Session, member: Member) -> PortalAccess:
    access = session.scalar(select(PortalAccess).where(PortalAccess.member_id == member.id))
    if access is None:
        raise DomainError(_l("Accès au portail introuvable."))
    return access


def set_password(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, password: str, confirm: str
) -> int:
    """Choose or change the optional password (staff policy: length and blocklist); ends the member's other
    portal sessions. Returns the new session epoch."""
    if (password or "") != (confirm or ""):
        raise FieldError("confirm", _l("Les deux mots de passe ne sont pas identiques."))
    check_password(password, full_name=member.full_name)
    access = access_of(session, member)
    first = access.password_hash is None
    access.password_hash = _hasher.hash(normalise(password))
    access.password_set_at = utcnow()
    access.failed_passwords = 0
    access.session_epoch += 1
    record_event(session, actor, "portal.password_set" if first else "portal.password_changed",
                 target_type="member", target_id=member.number, tenant_slug=tenant.slug)  # fmt: skip
    return access.session_epoch


def sign_out_everywhere(session: Session, tenant: TenantRef, actor: Actor, member: Member) -> None:
    access = access_of(session, member)
    access.session_epoch += 1
    record_event(session, actor, "portal.signed_out_everywhere", target_type="member",
                 target_id=member.number, tenant_slug=tenant.slug)  # fmt: skip


# --- what a member sees ------------------------------------------------------------------------------------


def household_shared(session: Session, member: Member) -> bool:
    principal = member.principal or member
    return bool(
        session.scalar(select(PortalAccess.share_household).where(PortalAccess.member_id == principal.id))
    )


def sees_household(session: Session, member: Member) -> bool:
    """The adhérent always; an adult ayant droit when the adhérent shares the household."""
    return member.is_principal or household_shared(session, member)


def visible_people(session: Session, member: Member) -> list[Member]:
    """The people whose rights and card this member may see: never anyone outside their household."""
    return household_of(member) if sees_household(session, member) else [member]


def set_household_sharing(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, share: bool
) -> None:
    """The adhérent lets the adult ayants droit see the whole household (or stops)."""
    if not member.is_principal:
        raise DomainError(_l("Seul l'adhérent peut choisir ce que voient les ayants droit."))
    access = access_of(session, member)
    if access.share_household != share:
        access.share_household = share
        record_event(session, actor, "portal.household_sharing", target_type="member",
                     target_id=member.number, tenant_slug=tenant.slug, after={"share": share})  # fmt: skip
