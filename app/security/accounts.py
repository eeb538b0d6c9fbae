"""Staff accounts run by administrators: invitations, password links, grants, disable/unlock, preferences.

Reach: an administrator manages accounts whose grants all lie in the subtrees where they hold
``accounts.manage``; platform administrators' accounts are managed by platform administrators only. Granting
a profile needs ``grants.manage`` on the node and every permission of the profile there (nobody hands out
more than they hold), and never to oneself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.phones import normalise_phone
from app.security.actor import Actor
from app.security.models import (
    Account,
    AccountStatus,
    AccountToken,
    Density,
    Grant,
    Profile,
    TextSize,
    TokenPurpose,
)
from app.security.passwords import check_password
from app.security.services import hash_password
from hierarchy.models import Node

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LinkInvalid(DomainError):
    pass


@dataclass(frozen=True)
class IssuedLink:
    account: Account
    token: str  # goes into the URL once; only its hash is stored
    expires_at: dt.datetime


# --- reach -------------------------------------------------------------------------------------------------


def can_manage(actor: Actor, account: Account, permission: str = "accounts.manage") -> bool:
    if actor.is_platform_admin:
        return True
    if account.is_platform_admin or account.id == actor.account_id:
        return False
    if not account.grants:  # invited without a grant yet: the inviter's own
        return account.created_by_id == actor.account_id
    return all(actor.can(permission, g.node.path) for g in account.grants)


def _require_manage(actor: Actor, account: Account, permission: str = "accounts.manage") -> None:
    if not can_manage(actor, account, permission):
        raise Forbidden(_l("Ce compte est hors de votre périmètre."))


def list_accounts(session: Session, actor: Actor, search: str = "") -> list[Account]:
    """Accounts within reach: granted somewhere in the actor's subtrees, or invited by the actor."""
    query = select(Account).order_by(Account.full_name)
    roots = actor.root_paths("accounts.read")
    if roots is not None:
        in_reach = (
            select(Grant.account_id)
            .join(Node, Node.id == Grant.node_id)
            .where(or_(*(Node.path.startswith(r) for r in roots)))
            if roots
            else select(Grant.account_id).where(False)
        )
        query = query.where(or_(Account.id.in_(in_reach), Account.created_by_id == actor.account_id))
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(func.lower(Account.full_name).like(pattern), func.lower(Account.email).like(pattern))
        )
    return list(session.scalars(query.limit(500)))


def get_account(session: Session, actor: Actor, public_id: str) -> Account:
    account = session.scalar(select(Account).where(Account.public_id == public_id))
    if account is None or not (
        actor.can("accounts.read")
        and (can_manage(actor, account, "accounts.read") or account.id == actor.account_id)
    ):
        raise NotFound(_l("Compte introuvable."))
    return account


# --- grants ------------------------------------------------------------------------------------------------


def check_grant_allowed(actor: Actor, account: Account | None, node: Node, profile: Profile) -> None:
    """The rule for giving ``profile`` at ``node`` (used before the step-up, and again when executing)."""
    if not actor.can("grants.manage", node.path):
        raise Forbidden(_l("Vous ne pouvez pas attribuer de profil sur ce nœud."))
    if account is not None and account.id == actor.account_id and not actor.is_platform_admin:
        raise Forbidden(_l("Vous ne pouvez pas vous attribuer un profil vous-même."))
    missing = sorted(p for p in profile.permissions if not actor.can(p, node.path))
    if missing:
        raise FieldError(
            "profile",
            _l("Ce profil donne des droits que vous n'avez pas ici : %(codes)s.", codes=", ".join(missing)),
        )


def add_grant(session: Session, actor: Actor, account: Account, node: Node, profile: Profile) -> Grant:
    check_grant_allowed(actor, account, node, profile)
    if any(g.node_id == node.id and g.profile_id == profile.id for g in account.grants):
        raise FieldError("profile", _l("Ce compte a déjà ce profil sur ce nœud."))
    grant = Grant(node=node, profile=profile, created_by_id=actor.account_id)
    account.grants.append(grant)
    session.flush()
    record_event(
        session, actor, "security.grant_added", target_type="account", target_id=account.public_id,
        after={"node": node.code, "profile": profile.code},
    )  # fmt: skip
    return grant


def revoke_grant(session: Session, actor: Actor, grant: Grant) -> None:
    if not actor.can("grants.manage", grant.node.path):
        raise Forbidden(_l("Vous ne pouvez pas retirer de profil sur ce nœud."))
    account = grant.account
    record_event(
        session, actor, "security.grant_revoked", target_type="account", target_id=account.public_id,
        before={"node": grant.node.code, "profile": grant.profile.code},
    )  # fmt: skip
    account.grants.remove(grant)
    session.delete(grant)
    # Sessions keep no copy of grants (the actor is rebuilt per request), so the change applies at once.
    session.flush()


def get_grant(session: Session, grant_id: int) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Attribution introuvable."))
    return grant


# --- invitations and password links ------------------------------------------------------------------------


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"mbolo-{purpose.value}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _issue(session: Session, actor: Actor, account: Account, purpose: TokenPurpose) -> IssuedLink:
    """A new link voids the previous unused ones of the same purpose."""
    lifetime = (
        dt.timedelta(hours=current_app.config["MBOLO_INVITATION_HOURS"])
        if purpose is TokenPurpose.invitation
        else dt.timedelta(minutes=current_app.config["MBOLO_RESET_MINUTES"])
    )
    now = utcnow()
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    nonce = secrets.token_urlsafe(32)
    token = _serializer(purpose).dumps(nonce)
    session.add(
        AccountToken(
            account_id=account.id, purpose=purpose, token_hash=_digest(nonce), created_by_id=actor.account_id,
            created_at=now, expires_at=now + lifetime,
        )
    )  # fmt: skip
    session.flush()
    return IssuedLink(account=account, token=token, expires_at=now + lifetime)


def _new_email(session: Session, email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise FieldError("email", _l("Adresse e-mail invalide."))
    if session.scalar(select(Account.id).where(func.lower(Account.email) == email)) is not None:
        raise FieldError("email", _l("Un compte existe déjà avec cette adresse."))
    return email


def _free_phone(session: Session, raw: str | None, account: Account | None = None) -> str | None:
    """The number in E.164, if no other account signs in with it."""
    phone = normalise_phone(raw)
    if phone is not None:
        owner = session.scalar(select(Account.id).where(Account.phone == phone))
        if owner is not None and (account is None or owner != account.id):
            raise FieldError("phone", _l("Un autre compte utilise déjà ce numéro."))
    return phone


def check_invitation(
    session: Session,
    actor: Actor,
    *,
    full_name: str,
    email: str | None,
    phone: str | None,
    node: Node,
    profile: Profile,
) -> tuple[str | None, str | None]:
    """The rules of an invitation (checked before the step-up too); returns the e-mail and E.164 phone."""
    if not actor.can("accounts.manage", node.path):
        raise Forbidden(_l("Vous ne pouvez pas créer de compte sur ce nœud."))
    if not (full_name or "").strip():
        raise FieldError("full_name", _l("Saisissez le nom complet."))
    if not (email or "").strip() and not (phone or "").strip():
        raise FieldError(
            "email", _l("Indiquez l'e-mail ou le téléphone : l'un des deux sert à se connecter.")
        )
    checked_email = _new_email(session, email) if (email or "").strip() else None
    checked_phone = _free_phone(session, phone)
    check_grant_allowed(actor, None, node, profile)
    return checked_email, checked_phone


def invite(
    session: Session,
    actor: Actor,
    *,
    full_name: str,
    email: str | None,
    phone: str | None,
    locale: str,
    node: Node,
    profile: Profile,
) -> IssuedLink:
    """Create an invited account with its first grant and a signed, time-limited link to choose a password."""
    email, phone = check_invitation(
        session, actor, full_name=full_name, email=email, phone=phone, node=node, profile=profile
    )
    account = Account(
        full_name=full_name.strip(), email=email, phone=phone, locale=locale,
        status=AccountStatus.invited, created_by_id=actor.account_id,
    )  # fmt: skip
    session.add(account)
    session.flush()
    record_event(
        session, actor, "security.account_invited", target_type="account", target_id=account.public_id,
        after={"email": email, "phone": phone, "full_name": account.full_name, "node": node.code,
               "profile": profile.code},
    )  # fmt: skip
    add_grant(session, actor, account, node, profile)
    return _issue(session, actor, account, TokenPurpose.invitation)


def invite_platform_admin(session: Session, actor: Actor, *, full_name: str, email: str) -> IssuedLink:
    """The first administrator (``mbolo admin invite``), or one more, invited by a platform administrator."""
    if not actor.is_platform_admin:
        raise Forbidden(_l("Seul un administrateur plateforme peut en inviter un autre."))
    email = _new_email(session, email)
    account = Account(
        full_name=(full_name or "").strip() or email, email=email, status=AccountStatus.invited,
        is_platform_admin=True, created_by_id=actor.account_id,
    )  # fmt: skip
    session.add(account)
    session.flush()
    record_event(
        session, actor, "security.account_invited", target_type="account", target_id=account.public_id,
        after={"email": email, "full_name": account.full_name, "platform_admin": True},
    )  # fmt: skip
    return _issue(session, actor, account, TokenPurpose.invitation)


def reissue_invitation(session: Session, actor: Actor, account: Account) -> IssuedLink:
    _require_manage(actor, account)
    if account.status is not AccountStatus.invited:
        raise DomainError(_l("Ce compte a déjà été activé."))
    link = _issue(session, actor, account, TokenPurpose.invitation)
    record_event(
        session, actor, "security.invitation_reissued", target_type="account", target_id=account.public_id
    )
    return link


def issue_password_reset(session: Session, actor: Actor, account: Account) -> IssuedLink:
    """An administrator gives a forgotten-password link to a colleague (the link ends the old sessions)."""
    _require_manage(actor, account)
    if account.status is not AccountStatus.active:
        raise DomainError(_l("Seul un compte actif peut recevoir un lien de réinitialisation."))
    link = _issue(session, actor, account, TokenPurpose.password_reset)
    record_event(
        session, actor, "security.password_reset_issued", target_type="account", target_id=account.public_id
    )
    return link


def read_link(session: Session, token: str, purpose: TokenPurpose) -> tuple[Account, AccountToken]:
    """The account a link opens, if the link is authentic, unused and not expired."""
    max_age = (
        current_app.config["MBOLO_INVITATION_HOURS"] * 3600
        if purpose is TokenPurpose.invitation
        else current_app.config["MBOLO_RESET_MINUTES"] * 60
    )
    try:
        nonce = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as expired:
        raise LinkInvalid(_l("Ce lien a expiré. Demandez-en un nouveau à votre administrateur.")) from expired
    except BadSignature as bad:
        raise LinkInvalid(_l("Ce lien n'est pas valide.")) from bad
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == _digest(str(nonce)), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None:
        raise LinkInvalid(_l("Ce lien a déjà servi ou a été remplacé par un plus récent."))
    if row.expires_at <= utcnow():
        raise LinkInvalid(_l("Ce lien a expiré. Demandez-en un nouveau à votre administrateur."))
    account = session.get(Account, row.account_id)
    assert account is not None
    return account, row


def set_password_from_link(
    session: Session,
    token: str,
    purpose: TokenPurpose,
    *,
    password: str,
    confirm: str,
    ip_address: str | None,
) -> Account:
    """Accept an invitation or a reset: the link is used once; the new password passes the policy."""
    account, row = read_link(session, token, purpose)
    if password != confirm:
        raise FieldError("confirm", _l("Les deux mots de passe ne sont pas identiques."))
    check_password(password, email=account.email, full_name=account.full_name)
    # Atomic: two submissions of one link cannot both set a password.
    used = session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:
        raise LinkInvalid(_l("Ce lien a déjà servi ou a été remplacé par un plus récent."))
    before_status = account.status
    account.password_hash, account.password_changed_at = hash_password(password), utcnow()
    account.failed_sign_ins, account.locked_until = 0, None
    if purpose is TokenPurpose.invitation:
        account.status = AccountStatus.active
    account.session_epoch += 1
    actor = Actor(account_id=account.id, label=account.login_label, ip_address=ip_address)
    action = (
        "security.invitation_accepted" if purpose is TokenPurpose.invitation else "security.password_reset"
    )
    record_event(
        session, actor, action, target_type="account", target_id=account.public_id,
        before={"status": str(before_status)}, after={"status": str(account.status)},
    )  # fmt: skip
    return account


# --- the account's own settings and its administration -----------------------------------------------------


def change_password(
    session: Session, actor: Actor, account: Account, *, current: str, new: str, confirm: str
) -> None:
    from app.security.services import password_matches

    if not password_matches(account, current):
        raise FieldError("current", _l("Mot de passe actuel incorrect."))
    if new != confirm:
        raise FieldError("confirm", _l("Les deux mots de passe ne sont pas identiques."))
    check_password(new, email=account.email, full_name=account.full_name)
    account.password_hash, account.password_changed_at = hash_password(new), utcnow()
    account.session_epoch += 1  # other sessions end; the view signs this one in again
    record_event(
        session, actor, "security.password_changed", target_type="account", target_id=account.public_id
    )


def update_preferences(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    full_name: str,
    phone: str | None,
    locale: str,
    density: str,
    text_size: str,
) -> None:
    if not (full_name or "").strip():
        raise FieldError("full_name", _l("Saisissez votre nom complet."))
    if locale not in current_app.config["MBOLO_LOCALES"]:
        raise FieldError("locale", _l("Langue non disponible."))
    if density not in Density.__members__:
        raise FieldError("density", _l("Disposition inconnue."))
    if text_size not in TextSize.__members__:
        raise FieldError("text_size", _l("Taille de texte inconnue."))
    normalised_phone = _free_phone(session, phone, account)
    before = _preferences(account)
    account.full_name, account.phone, account.locale = full_name.strip(), normalised_phone, locale
    account.ui_density, account.ui_text_size = Density(density), TextSize(text_size)
    after = _preferences(account)
    if before != after:
        record_event(
            session, actor, "account.preferences_changed", target_type="account", target_id=account.public_id,
            before=before, after=after,
        )  # fmt: skip


def _preferences(account: Account) -> dict[str, str | None]:
    return {
        "full_name": account.full_name, "phone": account.phone, "locale": account.locale,
        "density": str(account.ui_density), "text_size": str(account.ui_text_size),
    }  # fmt: skip


def set_disabled(session: Session, actor: Actor, account: Account, *, disabled: bool, reason: str) -> None:
    """Disable (all sessions end) or re-enable an account; a reason is required and kept in the audit."""
    _require_manage(actor, account)
    if not (reason or "").strip():
        raise FieldError("reason", _l("Indiquez le motif."))
    before = str(account.status)
    if disabled:
        account.status = AccountStatus.disabled
        account.session_epoch += 1
    elif account.status is AccountStatus.disabled:
        account.status = AccountStatus.active if account.password_hash else AccountStatus.invited
    record_event(
        session, actor, "security.account_disabled" if disabled else "security.account_enabled",
        target_type="account", target_id=account.public_id, before={"status": before},
        after={"status": str(account.status)}, reason=reason.strip(),
    )  # fmt: skip


def unlock(session: Session, actor: Actor, account: Account) -> None:
    from app.security.services import unlock_account

    _require_manage(actor, account)
    unlock_account(session, actor, account)


def reset_second_factor(session: Session, actor: Actor, account: Account) -> None:
    """Remove an account's TOTP and recovery codes (a lost phone): a critical function, behind a step-up."""
    from app.security import mfa

    if account.id != actor.account_id:
        if not actor.can("mfa.reset"):
            raise Forbidden(_l("Vous ne pouvez pas réinitialiser la double authentification."))
        _require_manage(actor, account, "mfa.reset")
    mfa.reset_mfa(session, actor, account)
    account.session_epoch += 1
