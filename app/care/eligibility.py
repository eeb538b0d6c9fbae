"""Eligibility at the counter: from a card's QR token (or the URL the QR holds) or a member number, the
beneficiary's rights today with the reason, the remaining ceilings and the acts that need prior approval.
Each check is stored (``eligibility_checks``) and audited as a read of the member's record.

Provider staff check for their own provider only; the mutual's staff may name any provider (or none)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_read
from app.care.models import CareProvider, CheckChannel, EligibilityCheck
from app.care.providers import provider_scope, require_in_branch
from app.coverage import rights as rights_engine
from app.coverage.models import ProductBenefit
from app.errors import FieldError, NotFound
from app.members import cards, numbers
from app.members.models import Member
from app.security.actor import Actor
from tenants.context import TenantRef

PERMISSION = "care.check_eligibility"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

CARD_MESSAGES = {
    "expired": _l("La carte a expiré : les droits ci-dessous sont ceux du registre."),
    "malformed": _l("Ce code QR n'est pas celui d'une carte de la mutuelle."),
    "wrong_tenant": _l("Cette carte est celle d'une autre mutuelle."),
    "unknown_key": _l("Cette carte n'est pas signée par une clé de la mutuelle (carte fausse ou retirée)."),
    "bad_signature": _l("La signature de cette carte est fausse : ne l'acceptez pas."),
}


@dataclass(frozen=True)
class Scan:
    """What the counter typed or pasted: a card token, or a member number."""

    token: str | None
    number: str | None


def read_scan(raw: str) -> Scan:
    """A QR scanner app pastes the card's URL (``…/verify/<token>``) or the token; a person types a number."""
    text = (raw or "").strip()
    if not text:
        raise FieldError("query", _l("Scannez la carte ou saisissez le numéro de membre."))
    candidate = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if _TOKEN.fullmatch(candidate):
        return Scan(token=candidate, number=None)
    return Scan(token=None, number=text)


@dataclass(frozen=True)
class Eligibility:
    member: Member
    day: dt.date
    rights: rights_engine.Rights
    provider: CareProvider | None
    channel: CheckChannel
    card_outcome: str | None  # ok | expired | None (checked by number)
    prior_approval: list[ProductBenefit]
    check: EligibilityCheck

    @property
    def covered(self) -> bool:
        return self.rights.covered

    @property
    def reason_code(self) -> str:
        return str(self.rights.main_reason.code)

    def as_dict(self) -> dict:
        data = self.rights.as_dict()
        data["check_id"] = self.check.id
        data["provider"] = self.provider.code if self.provider else None
        data["name"] = self.member.full_name
        data["card"] = self.card_outcome
        data["prior_approval"] = [
            {"code": pb.benefit.code, "name": pb.benefit.name, "product": pb.product.code}
            for pb in self.prior_approval
        ]
        return data


def _member_by_number(session: Session, raw: str) -> Member:
    parsed = numbers.parse(raw)
    if parsed is None:
        raise FieldError("query", _l("Numéro de membre invalide (vérifiez chaque caractère)."))
    member = session.scalar(select(Member).where(Member.number == str(parsed)))
    if member is None:
        raise NotFound(_l("Aucun membre n'a ce numéro."))
    return member


def find_member(session: Session, tenant: TenantRef, scan: Scan) -> tuple[Member, str | None]:
    """The member a scan names, with the card's verdict (a forged or foreign card is refused)."""
    if scan.token is None:
        return _member_by_number(session, scan.number or ""), None
    verdict = cards.verify_token(session, tenant, scan.token)
    if verdict.number is None:
        raise FieldError("query", CARD_MESSAGES.get(verdict.reason, CARD_MESSAGES["malformed"]))
    member = session.scalar(select(Member).where(Member.number == verdict.number))
    if member is None:
        raise NotFound(_l("Aucun membre n'a ce numéro."))
    return member, verdict.reason


def _provider_for(session: Session, actor: Actor, provider_id: int | None) -> CareProvider | None:
    own = provider_scope(session, actor)
    if own is not None:
        if provider_id is not None and provider_id != own:
            raise NotFound(_l("Prestataire introuvable."))
        provider_id = own
    if provider_id is None:
        return None
    provider = session.get(CareProvider, provider_id)
    if provider is None:
        raise NotFound(_l("Prestataire introuvable."))
    return provider


def prior_approval_acts(rights: rights_engine.Rights) -> list[ProductBenefit]:
    """Acts of the covering products (else of every product held) that need the médecin-conseil's approval."""
    products = rights.covering or rights.products
    seen: set[int] = set()
    found = []
    for held in products:
        for pb in held.product.benefits:
            if pb.covered and pb.prior_approval and pb.benefit_id not in seen:
                seen.add(pb.benefit_id)
                found.append(pb)
    return sorted(found, key=lambda pb: pb.benefit.name)


def check(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    query: str,
    *,
    channel: CheckChannel = CheckChannel.web,
    provider_id: int | None = None,
    day: dt.date | None = None,
) -> Eligibility:
    """Check a beneficiary's rights at a counter; stored and audited, whatever the answer."""
    require_in_branch(session, tenant, actor, PERMISSION)
    provider = _provider_for(session, actor, provider_id)
    scan = read_scan(query)
    member, card_outcome = find_member(session, tenant, scan)
    if scan.token is not None and channel == CheckChannel.web:
        channel = CheckChannel.qr
    return _answer(session, tenant, actor, member, provider, channel, card_outcome, day)


def check_member(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    member: Member,
    *,
    channel: CheckChannel,
    provider_id: int | None = None,
    day: dt.date | None = None,
    permission: str = PERMISSION,
) -> Eligibility:
    """The same check for a member already found (the API names the member; it passes ``members.read``,
    the API's scope, having checked the member is within the client's reach)."""
    require_in_branch(session, tenant, actor, permission)
    provider = _provider_for(session, actor, provider_id)
    return _answer(session, tenant, actor, member, provider, channel, None, day)


def _answer(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    member: Member,
    provider: CareProvider | None,
    channel: CheckChannel,
    card_outcome: str | None,
    day: dt.date | None,
) -> Eligibility:
    day = day or clock.today()
    answer = rights_engine.rights_on(session, tenant, member, day)
    row = EligibilityCheck(
        member_id=member.id, provider_id=provider.id if provider else None, covered=answer.covered,
        reason_code=str(answer.main_reason.code), channel=channel, actor_label=actor.label[:200],
    )  # fmt: skip
    session.add(row)
    session.flush()
    record_read(
        session, actor, "eligibility", member.number, covered=answer.covered,
        reason=str(answer.main_reason.code), channel=str(channel), day=day.isoformat(),
        provider=provider.code if provider else None, check_id=row.id,
    )  # fmt: skip
    return Eligibility(
        member=member, day=day, rights=answer, provider=provider, channel=channel, card_outcome=card_outcome,
        prior_approval=prior_approval_acts(answer), check=row,
    )  # fmt: skip


def recent_checks(session: Session, actor: Actor, limit: int = 20) -> list[EligibilityCheck]:
    """The latest checks (provider staff: their provider's)."""
    query = select(EligibilityCheck).order_by(EligibilityCheck.checked_at.desc()).limit(limit)
    own = provider_scope(session, actor)
    if own is not None:
        query = query.where(EligibilityCheck.provider_id == own)
    return list(session.scalars(query))
