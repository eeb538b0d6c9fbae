"""Eligibility at the counter: by QR token (the URL a scanner pastes, or the token), by number, a forged card
refused, each check stored and audited, prior-approval acts listed, provider staff limited to their
provider, and the FHIR R4 CoverageEligibilityRequest → CoverageEligibilityResponse."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.care import eligibility, providers
from app.care.models import (
    CareProvider,
    CheckChannel,
    Convention,
    ConventionStatus,
    EligibilityCheck,
    Pricing,
    ProviderUser,
)
from app.errors import FieldError, Forbidden, NotFound
from app.members import cards
from app.security.actor import Actor
from tenants.context import tenant_scope
from tests.app.coverage.test_rights import add_benefit, add_due, enrol, make_product, subscribe

D = dt.date
TODAY = "2027-03-10"


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def setup_care(session: Session, world: Any) -> dict[str, Any]:
    """Two providers under convention, a covered household (paid through March 2027) whose product covers a
    consultation (ceiling 100 000 per year) and a scan that needs prior approval."""
    principal = enrol(session, world.alpha)
    product = make_product(session)
    consult = add_benefit(session, product, name="Consultation", ceiling_per_beneficiary_year=100_000)
    scan = add_benefit(session, product, name="Scanner", prior_approval=True)
    consult.benefit.reference_price, scan.benefit.reference_price = 5000, 60000
    subscription = subscribe(session, principal, product)
    for month in (1, 2, 3):
        add_due(session, subscription, D(2027, month, 1), paid=True)
    made = []
    for name in ("A", "B"):
        provider = CareProvider(code=f"PS-{tag()}", name=f"Centre {name} {tag()}", kind="health_centre",
                                region="Dakar")  # fmt: skip
        session.add(provider)
        session.flush()
        session.add(Convention(provider_id=provider.id, reference=f"C-{name}", starts_on=D(2026, 1, 1),
                               pricing=Pricing.reference_grid, status=ConventionStatus.active))  # fmt: skip
        made.append(provider)
    session.flush()
    return {"member": principal, "product": product, "consult": consult.benefit, "scan": scan.benefit,
            "a": made[0], "b": made[1]}  # fmt: skip


_NEXT_ACCOUNT = [900_000 + uuid.uuid4().int % 50_000]


def staff_actor(session: Session, tenant: Any, provider: CareProvider) -> Actor:
    """A provider staff member's actor (the provider_staff profile on the mutual's node) tied to
    ``provider`` by a provider_users row."""
    _NEXT_ACCOUNT[0] += 1
    node = providers.mutual_node(session, tenant)
    session.add(ProviderUser(provider_id=provider.id, account_id=_NEXT_ACCOUNT[0]))
    session.flush()
    return Actor(account_id=_NEXT_ACCOUNT[0], label=f"guichet {provider.code}",
                 scopes=((node.path, frozenset({"care.check_eligibility", "care.record"})),))  # fmt: skip


def agent_actor(session: Session, tenant: Any, *perms: str) -> Actor:
    node = providers.mutual_node(session, tenant)
    return Actor(account_id=None, label="agent", scopes=((node.path, frozenset(perms)),))


@pytest.fixture
def alpha(session: Session, world: Any, app: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with tenant_scope(session, world.alpha):
        yield session
        session.rollback()


def audited(session: Session, action: str, target: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(TenantAuditEvent)
        .where(TenantAuditEvent.action == action, TenantAuditEvent.target_id == target)
    )


def test_check_by_qr_url_token_and_number(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    member = care["member"]
    token = cards.card_token(alpha, world.alpha, member, valid_until=D(2027, 12, 31))
    actor = staff_actor(alpha, world.alpha, care["a"])

    by_url = eligibility.check(alpha, world.alpha, actor, f"https://mbolo.sn/alpha/verify/{token}")
    assert by_url.member.id == member.id and by_url.covered and by_url.reason_code == "covered"
    assert by_url.channel == CheckChannel.qr and by_url.card_outcome == "ok"
    assert by_url.provider.id == care["a"].id  # staff check for their own provider
    assert [pb.benefit.name for pb in by_url.prior_approval] == ["Scanner"]
    [ceiling] = [c for c in by_url.rights.ceilings if c.beneficiary]
    assert ceiling.beneficiary.remaining == 100_000

    by_number = eligibility.check(alpha, world.alpha, actor, member.number.lower().replace("-", " "))
    assert by_number.channel == CheckChannel.web and by_number.covered
    rows = alpha.scalars(select(EligibilityCheck).where(EligibilityCheck.member_id == member.id)).all()
    assert [(r.channel, r.covered, r.reason_code, r.provider_id) for r in rows] == [
        (CheckChannel.qr, True, "covered", care["a"].id),
        (CheckChannel.web, True, "covered", care["a"].id),
    ]
    assert audited(alpha, "read.eligibility", member.number) == 2


def test_uncovered_member_gets_the_reason(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    late = enrol(alpha, world.alpha)
    subscribe(alpha, late, care["product"], start=D(2027, 3, 1))  # still in the waiting period
    result = eligibility.check(alpha, world.alpha, agent_actor(alpha, world.alpha, "care.check_eligibility"),
                               late.number)  # fmt: skip
    assert not result.covered and result.reason_code == "waiting_period"
    assert "carence" in result.rights.headline


def test_forged_foreign_or_unknown_cards_are_refused(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    actor = staff_actor(alpha, world.alpha, care["a"])
    token = cards.card_token(alpha, world.alpha, care["member"], valid_until=D(2027, 12, 31))
    header, payload, signature = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(payload + "==").replace(
                care["member"].number.encode(), b"ART-000001-00-X"
            )
        )
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(FieldError, match="signature"):
        eligibility.check(alpha, world.alpha, actor, f"{header}.{forged_payload}.{signature}")
    with pytest.raises(FieldError):
        eligibility.check(alpha, world.alpha, actor, "abc.def.ghi")
    with pytest.raises(FieldError):
        eligibility.check(alpha, world.alpha, actor, "pas un numéro")
    with pytest.raises(FieldError):
        eligibility.check(alpha, world.alpha, actor, "")


def test_provider_staff_cannot_check_for_another_provider_or_see_its_checks(
    alpha: Session, world: Any
) -> None:
    care = setup_care(alpha, world)
    staff_a = staff_actor(alpha, world.alpha, care["a"])
    staff_b = staff_actor(alpha, world.alpha, care["b"])
    with pytest.raises(NotFound):
        eligibility.check(alpha, world.alpha, staff_a, care["member"].number, provider_id=care["b"].id)
    eligibility.check(alpha, world.alpha, staff_b, care["member"].number)
    assert all(c.provider_id == care["a"].id for c in eligibility.recent_checks(alpha, staff_a))
    assert care["b"].id in {c.provider_id for c in eligibility.recent_checks(alpha, staff_b)}
    assert [p.id for p in providers.list_providers(alpha, world.alpha, staff_a)] == [care["a"].id]
    with pytest.raises(NotFound):
        providers.get_provider(alpha, world.alpha, staff_a, care["b"].public_id)
    assert providers.get_provider(alpha, world.alpha, staff_a, care["a"].public_id).id == care["a"].id
    outsider = Actor(account_id=None, label="x", scopes=(("/999/", frozenset({"care.check_eligibility"})),))
    with pytest.raises(Forbidden):
        eligibility.check(alpha, world.alpha, outsider, care["member"].number)
