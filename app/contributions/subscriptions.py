"""Subscriptions: an adhérent's household joins a product from a date, and leaves it.

The rules: only the adhérent subscribes (for the household); the product must be offered on the start date
and have a tariff in force then; one active subscription per product per household; the adhérent must be
active or pending. Staff who enrol members or record contributions at the member's association may do it.
Every change is audited. Functions flush, never commit."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session, scoped_session

from app.audit.services import record_event
from app.contributions.models import (
    Due,
    DueKind,
    DueStatus,
    Subscription,
    SubscriptionStatus,
    SubsidyReceivable,
)
from app.contributions.pricing import subsidy_shares
from app.coverage.models import Product, ProductVersion
from app.database import utcnow
from app.errors import DomainError, FieldError, Forbidden
from app.members.models import Member, MemberStatus
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef

#: Either permission lets staff subscribe a household (at enrolment, or at the cash desk).
SUBSCRIBE_PERMISSIONS = ("members.enrol", "contributions.record")
#: Either permission lets staff end a subscription.
END_PERMISSIONS = ("members.manage", "contributions.record")

AnySession = Session | scoped_session[Session]


class SubscriptionError(DomainError):
    """A subscription refused by a rule (the message says which)."""


def _require_any(session: AnySession, actor: Actor, member: Member, permissions: tuple[str, ...]) -> None:
    node = session.get(Node, member.association_id)
    if node is None or not any(actor.can(p, node.path) for p in permissions):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))


def _lock_household(session: AnySession, principal: Member) -> None:
    """Serialise subscriptions of one household: two agents cannot both pass the one-active check."""
    session.execute(select(Member.id).where(Member.id == principal.id).with_for_update())


def active_subscription(session: AnySession, principal: Member, product: Product) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.member_id == principal.id,
            Subscription.product_id == product.id,
            Subscription.status == SubscriptionStatus.active,
        )
    )


def subscriptions_of(session: AnySession, member: Member) -> list[Subscription]:
    """The household's subscriptions (an ayant droit reads its adhérent's), newest first."""
    principal_id = member.principal_id or member.id
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.member_id == principal_id)
            .order_by(Subscription.start_date.desc(), Subscription.id.desc())
        )
    )


def subscribe(
    session: AnySession,
    tenant: TenantRef,
    actor: Actor,
    principal: Member,
    product: Product,
    start_date: dt.date,
) -> Subscription:
    """Subscribe the adhérent's household to ``product`` from ``start_date`` (dues follow from that date:
    the periods are aligned on it)."""
    _require_any(session, actor, principal, SUBSCRIBE_PERMISSIONS)
    if not principal.is_principal:
        raise SubscriptionError(_l("Seul l'adhérent souscrit, pour tout son foyer."))
    if principal.status not in (MemberStatus.active, MemberStatus.pending):
        raise SubscriptionError(
            _l("L'adhérent doit être actif ou en attente pour souscrire (statut actuel : %(status)s).",
               status=str(principal.status))
        )  # fmt: skip
    if start_date < product.valid_from or (product.valid_to is not None and start_date > product.valid_to):
        raise FieldError("start_date", _l("Ce produit n'est pas proposé à cette date."))
    version = product.version_on(start_date)
    if version is None:
        raise FieldError("start_date", _l("Aucun tarif de ce produit n'est en vigueur à cette date."))
    _lock_household(session, principal)
    if active_subscription(session, principal, product) is not None:
        raise SubscriptionError(_l("Ce foyer a déjà une souscription en cours à ce produit."))
    subscription = Subscription(
        member_id=principal.id, product_id=product.id, start_date=start_date,
        status=SubscriptionStatus.active, created_by_label=actor.label,
    )  # fmt: skip
    session.add(subscription)
    session.flush()
    record_event(
        session, actor, "contributions.subscribed", target_type="subscription",
        target_id=subscription.public_id,
        after={"member": principal.number, "product": product.code, "start_date": start_date.isoformat(),
               "tariff_version": version.number},
    )  # fmt: skip
    return subscription


def end_subscription(
    session: AnySession,
    tenant: TenantRef,
    actor: Actor,
    subscription: Subscription,
    reason: str,
    end_date: dt.date,
) -> Subscription:
    """End a subscription on ``end_date`` (its last covered day) with a reason. Dues of periods starting
    after that day that nothing was paid on are cancelled with the same reason (kept, never deleted)."""
    principal = session.get(Member, subscription.member_id)
    assert principal is not None
    _require_any(session, actor, principal, END_PERMISSIONS)
    if subscription.status is not SubscriptionStatus.active:
        raise SubscriptionError(_l("Cette souscription est déjà terminée."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldError("reason", _l("Indiquez le motif."))
    if end_date < subscription.start_date:
        raise FieldError("end_date", _l("La date de fin précède le début de la souscription."))
    subscription.status = SubscriptionStatus.ended
    subscription.end_date = end_date
    subscription.end_reason = reason[:300]
    cancelled = session.execute(
        update(Due)
        .where(
            Due.subscription_id == subscription.id,
            Due.kind == DueKind.contribution,
            Due.period_start > end_date,
            Due.status == DueStatus.open,
            Due.paid_amount == 0,
        )
        .values(status=DueStatus.cancelled, cancelled_reason=reason[:300])
        .returning(Due.period_start, Due.version_id, Due.amount)
        .execution_options(synchronize_session="fetch")
    ).all()
    _release_subsidies(session, [(due.period_start, due.version_id, due.amount) for due in cancelled])
    session.flush()
    record_event(
        session, actor, "contributions.subscription_ended", target_type="subscription",
        target_id=subscription.public_id, reason=reason,
        before={"status": "active"},
        after={"status": "ended", "end_date": end_date.isoformat(),
               "cancelled_dues": sorted(d.period_start.isoformat() for d in cancelled)},
    )  # fmt: skip
    return subscription


def _release_subsidies(session: AnySession, dues: list[tuple[dt.date, int, int]]) -> None:
    """Take cancelled dues' subsidies off the funders' receivables already computed (the same shares as
    ``dues.refresh_subsidy_receivables``), so they stay right until the next refresh."""
    owed: dict[tuple[str, dt.date], int] = {}
    for period_start, version_id, amount in dues:
        version = session.get(ProductVersion, version_id)
        assert version is not None
        for funder, share in subsidy_shares(version.subsidies, amount):
            key = (funder, period_start.replace(day=1))
            owed[key] = owed.get(key, 0) + share
    for (funder, month), share in owed.items():
        if share:
            session.execute(
                update(SubsidyReceivable)
                .where(SubsidyReceivable.funder == funder, SubsidyReceivable.period_start == month)
                .values(amount=SubsidyReceivable.amount - share, updated_at=utcnow())
                .execution_options(synchronize_session="fetch")
            )
