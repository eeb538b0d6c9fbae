"""Subscriptions: who may subscribe to what and when, one active per product per household, the end of a
subscription (unpaid later dues cancelled, never deleted), and the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions.dues import generate_dues, refresh_subsidy_receivables
from app.contributions.models import Due, DueStatus, SubscriptionStatus, SubsidyReceivable
from app.contributions.subscriptions import (
    SubscriptionError,
    end_subscription,
    subscribe,
    subscriptions_of,
)
from app.errors import FieldError, Forbidden
from app.members.models import MemberStatus
from app.security.actor import Actor
from hierarchy.models import Node
from tests.app.contributions import test_dues
from tests.app.contributions.test_dues import Mutual, add_version, make_household, make_product
from tests.fixtures.app import SYSTEM

D = dt.date
#: The fixtures of test_dues (a mutual of one's own per test), used here by name.
mutual, in_mutual = test_dues.mutual, test_dues.in_mutual


def staff(session: Session, association_id: int, *permissions: str) -> Actor:
    node = session.get(Node, association_id)
    return Actor(account_id=None, label="agent@test.sn", scopes=((node.path, frozenset(permissions)),))


def actions(session: Session, action: str) -> list[TenantAuditEvent]:
    return list(session.scalars(select(TenantAuditEvent).where(TenantAuditEvent.action == action)))


def test_the_adherent_subscribes_the_household(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000)
    principal = make_household(session, mutual, dependants=(("child", "2015"),))
    agent = staff(session, mutual.associations[0], "contributions.record")
    subscription = subscribe(session, mutual.tenant, agent, principal, product, D(2026, 3, 15))
    assert (subscription.status, subscription.start_date, subscription.member_id) == (
        SubscriptionStatus.active, D(2026, 3, 15), principal.id,
    )  # fmt: skip
    assert subscription.created_by_label == "agent@test.sn"
    assert subscriptions_of(session, principal.dependants[0]) == [subscription]  # the household's
    [event] = actions(session, "contributions.subscribed")
    assert event.target_id == subscription.public_id
    assert event.details["after"] == {"member": principal.number, "product": product.code,
                                      "start_date": "2026-03-15", "tariff_version": 1}  # fmt: skip
    with pytest.raises(SubscriptionError, match="déjà une souscription"):
        subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 5, 1))
    other = make_product(session, basis="per_adherent", amount=500)
    subscribe(session, mutual.tenant, SYSTEM, principal, other, D(2026, 5, 1))  # another product: fine


def test_who_may_subscribe(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000)
    principal = make_household(session, mutual, association=0, dependants=(("spouse", "1980"),))
    with pytest.raises(SubscriptionError, match="Seul l'adhérent"):
        subscribe(session, mutual.tenant, SYSTEM, principal.dependants[0], product, D(2026, 1, 1))
    elsewhere = staff(session, mutual.associations[1], "contributions.record", "members.enrol")
    with pytest.raises(Forbidden):
        subscribe(session, mutual.tenant, elsewhere, principal, product, D(2026, 1, 1))
    reader = staff(session, mutual.associations[0], "contributions.read", "members.read")
    with pytest.raises(Forbidden):
        subscribe(session, mutual.tenant, reader, principal, product, D(2026, 1, 1))
    enroller = staff(session, mutual.associations[0], "members.enrol")
    assert subscribe(session, mutual.tenant, enroller, principal, product, D(2026, 1, 1)).id


@pytest.mark.parametrize("status", [MemberStatus.suspended, MemberStatus.left, MemberStatus.deceased])
def test_only_active_or_pending_adherents_subscribe(in_mutual: Session, mutual: Mutual, status):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000)
    pending = make_household(session, mutual, consent=False)
    assert pending.status is MemberStatus.pending
    subscribe(session, mutual.tenant, SYSTEM, pending, product, D(2026, 1, 1))
    principal = make_household(session, mutual)
    principal.status = status
    with pytest.raises(SubscriptionError, match="actif ou en attente"):
        subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 1))


def test_the_product_must_be_offered_with_a_tariff_on_the_start_date(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000, valid_from=D(2026, 1, 1),
                           effective_from=D(2026, 2, 1))  # fmt: skip
    product.valid_to = D(2026, 12, 31)
    principal = make_household(session, mutual)
    for day, message in ((D(2025, 12, 31), "pas proposé"), (D(2027, 1, 1), "pas proposé"),
                         (D(2026, 1, 15), "Aucun tarif")):  # fmt: skip
        with pytest.raises(FieldError, match=message) as refused:
            subscribe(session, mutual.tenant, SYSTEM, principal, product, day)
        assert refused.value.field == "start_date"
    add_version(session, product, effective_from=D(2026, 7, 1), basis="per_adherent", amount=1200)
    subscription = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 2, 1))
    assert subscription.start_date == D(2026, 2, 1)


def test_ending_cancels_the_unpaid_dues_after_the_end(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000, subsidies=[("État", 50, None)])
    principal = make_household(session, mutual)
    subscription = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 10))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 6, 30))
    refresh_subsidy_receivables(session, mutual.tenant)
    found = session.scalars(select(Due).where(Due.subscription_id == subscription.id))
    dues = {d.period_start: d for d in found}
    dues[D(2026, 5, 10)].paid_amount = 400  # partly paid: kept open, the household still owes or is refunded
    session.flush()
    with pytest.raises(FieldError, match="motif"):
        end_subscription(session, mutual.tenant, SYSTEM, subscription, "  ", D(2026, 4, 30))
    with pytest.raises(FieldError, match="précède"):
        end_subscription(session, mutual.tenant, SYSTEM, subscription, "Départ", D(2026, 1, 9))
    agent = staff(session, mutual.associations[1], "contributions.record")
    with pytest.raises(Forbidden):
        end_subscription(session, mutual.tenant, agent, subscription, "Départ", D(2026, 4, 30))
    end_subscription(session, mutual.tenant, SYSTEM, subscription, "Départ de la mutuelle", D(2026, 4, 30))
    session.commit()
    statuses = {day: (d.status, d.cancelled_reason) for day, d in dues.items()}
    assert statuses[D(2026, 4, 10)] == (DueStatus.open, None)  # started before the end: owed
    assert statuses[D(2026, 5, 10)] == (DueStatus.open, None)
    assert statuses[D(2026, 6, 10)] == (DueStatus.cancelled, "Départ de la mutuelle")
    assert (subscription.status, subscription.end_date, subscription.end_reason) == (
        SubscriptionStatus.ended, D(2026, 4, 30), "Départ de la mutuelle",
    )  # fmt: skip
    june = session.scalar(select(SubsidyReceivable).where(SubsidyReceivable.period_start == D(2026, 6, 1)))
    assert june.amount == 0  # the cancelled due's subsidy is no longer owed by the funder
    assert refresh_subsidy_receivables(session, mutual.tenant) == []  # already right
    [event] = actions(session, "contributions.subscription_ended")
    assert event.details["after"]["cancelled_dues"] == ["2026-06-10"]
    with pytest.raises(SubscriptionError, match="déjà terminée"):
        end_subscription(session, mutual.tenant, SYSTEM, subscription, "Encore", D(2026, 5, 1))
    again = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 9, 1))  # ended: may rejoin
    assert again.status is SubscriptionStatus.active
