"""Payments of contributions: recording (cash at the association, or online through the payments package),
allocation to the oldest dues first, credit carried to later dues, cancellation and correction (never a
deletion), arrears and the household's account.

Every function runs in the tenant's scope (the caller binds it), takes the actor explicitly where someone
acts, flushes and never commits.

**Receipt numbers.** ``R-<year>-<0000123>``: one gapless sequence per mutual and per year of receipt, computed
as ``max + 1`` under a transaction-scoped advisory lock (no database sequence: a sequence leaves holes on
rollback, and auditors of a cash box expect none). An agent may type the number of a paper receipt book
instead (any other shape). A correction keeps the original's number with ``-C1`` (``-C2`` for the next
one): the paper trail reads at a glance, and corrections do not consume numbers of the yearly sequence.

**Locks.** Two payments of one household must not both fill the same due, and two receipts must not get
the same number. Every change of a household's allocations takes, in this order: the external reference's
lock (online payments), the household's advisory lock, the receipt-number lock, then the rows
(``SELECT … FOR UPDATE`` on the household's dues, then on its payments). Audit events are recorded last:
the audit chain's lock (taken at their flush, held to the commit) must come after ours, or two
transactions could wait on each other. Callers should not flush an audit event of the tenant (e.g. a
``record_read``) before calling ``record_payment`` or ``correct_payment`` in the same transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt
import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session, selectinload

from app import clock, dates
from app.audit.services import record_event
from app.contributions.models import (
    Allocation,
    Due,
    DueKind,
    DueStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Subscription,
)
from app.coverage.models import Product
from app.database import utcnow
from app.errors import DomainError, FieldError, NotFound
from app.members.models import Member
from app.members.services import associations_in_reach, check_member_scope
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef, current_tenant_of

#: Above this, a typed amount is surely a mistake (a year of a large household is far below).
MAX_AMOUNT = 10_000_000
#: First key of this module's two-key advisory locks ("MBP"), apart from the audit's and the cards'.
_LOCK_NAMESPACE = 0x4D4250
#: Seven digits: a sector mutual at national scale issues more than a million receipts a year.
_GENERATED = re.compile(r"^R-(\d{4})-(\d{7})$")
_CORRECTION = re.compile(r"-C\d+$")
_MANUAL_RECEIPT = re.compile(r"^[A-Z0-9][A-Z0-9/. -]{0,29}$")
_CURRENCY_SUFFIX = re.compile(r"\s*(?:F\s*CFA|FCFA|XOF|F)\s*$", re.IGNORECASE)

METHOD_LABELS: dict[str, object] = {
    "cash": _l("Espèces"),
    "mobile_money": _l("Mobile money"),
    "card": _l("Carte bancaire"),
    "bank": _l("Virement ou versement bancaire"),
}
DUE_STATUS_LABELS: dict[str, object] = {
    "open": _l("À payer"),
    "paid": _l("Payée"),
    "cancelled": _l("Annulée"),
}
PAYMENT_STATUS_LABELS: dict[str, object] = {"valid": _l("Valide"), "cancelled": _l("Annulé")}


# --- input -------------------------------------------------------------------------------------------------


def parse_amount(raw: int | str | None, field: str = "amount") -> int:
    """A positive whole number of XOF from what an agent types ("25000", "25 000", "25.000 F"); never a
    float, never cents (the franc CFA has none)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str | None):
        raise FieldError(field, _l("Montant en francs CFA, sans centimes (ex. : 5000)."))
    if isinstance(raw, int):
        value = raw
    else:
        typed = _CURRENCY_SUFFIX.sub("", (raw or "").strip())
        typed = re.sub(r"[\s\u00a0\u202f]", "", typed)
        if not typed:
            raise FieldError(field, _l("Indiquez le montant."))
        if re.fullmatch(r"\d+", typed):
            value = int(typed)
        elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+", typed):
            value = int(re.sub(r"[.,]", "", typed))
        else:
            raise FieldError(field, _l("Montant en francs CFA, sans centimes (ex. : 5000)."))
    if value <= 0:
        raise FieldError(field, _l("Le montant doit être supérieur à zéro."))
    if value > MAX_AMOUNT:
        raise FieldError(
            field, _l("Montant trop élevé : vérifiez la saisie (10 000 000 F CFA au plus par paiement).")
        )
    return value


def parse_day(raw: str | None, field: str) -> dt.date:
    """A date typed JJ/MM/AAAA (or ISO, as a date input sends it)."""
    return dates.parse_day(raw, field)


def clean_reason(raw: str | None, field: str = "reason") -> str:
    """A cancellation or correction always says why (it stays on the payment and in the audit log)."""
    reason = " ".join((raw or "").split())
    if not reason:
        raise FieldError(field, _l("Indiquez le motif."))
    if len(reason) > 300:
        raise FieldError(field, _l("Motif trop long (300 caractères au plus)."))
    return reason


def _method(raw: str | PaymentMethod) -> PaymentMethod:
    try:
        return PaymentMethod(str(raw))
    except ValueError as bad:
        raise FieldError("method", _l("Mode de paiement inconnu.")) from bad


def _manual_receipt(raw: str) -> str:
    number = " ".join(raw.split()).upper()
    if not _MANUAL_RECEIPT.fullmatch(number):
        raise FieldError(
            "receipt_number",
            _l("Numéro de reçu : 30 caractères au plus, lettres, chiffres, tirets ou barres obliques."),
        )
    if _GENERATED.fullmatch(number) or _CORRECTION.search(number):
        raise FieldError(
            "receipt_number",
            _l("Ce format est réservé aux reçus numérotés par Mbolo : laissez le champ vide."),
        )
    return number


# --- locks -------------------------------------------------------------------------------------------------


def _lock(session: Session, name: str) -> None:
    """A transaction-scoped advisory lock named within the session's tenant (schemas share one database)."""
    tenant = current_tenant_of(session)
    scope = tenant.schema if tenant is not None else "public"
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
        {"ns": _LOCK_NAMESPACE, "name": f"{scope}:{name}"},
    )


def _lock_household(session: Session, principal_id: int) -> None:
    _lock(session, f"household:{principal_id}")


def _due_order() -> tuple[Any, ...]:
    """Oldest first; on the same date the joining fee before the contribution; then creation order."""
    return (Due.due_date, case((Due.kind == DueKind.joining_fee, 0), else_=1), Due.id)


def _lock_open_dues(session: Session, principal_id: int) -> list[Due]:
    """The household's open dues, oldest first, locked (in that order) until the end of the transaction."""
    return list(
        session.scalars(
            select(Due)
            .where(Due.member_id == principal_id, Due.status == DueStatus.open)
            .order_by(*_due_order())
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _lock_credit(session: Session, principal_id: int) -> list[Payment]:
    """The household's valid payments holding credit, oldest first (the older money is used first)."""
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.member_id == principal_id,
                Payment.status == PaymentStatus.valid,
                Payment.unallocated > 0,
            )
            .order_by(Payment.received_on, Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _lock_payment(session: Session, payment: Payment) -> Payment:
    locked = session.scalar(
        select(Payment)
        .where(Payment.id == payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


# --- allocation --------------------------------------------------------------------------------------------


def _spread(session: Session, payment: Payment, dues: Sequence[Due]) -> list[Allocation]:
    """Give ``payment``'s unallocated money to ``dues`` in their order, each up to what it still lacks."""
    created: list[Allocation] = []
    remaining = payment.unallocated
    for due in dues:
        if remaining <= 0:
            break
        if due.status is not DueStatus.open:
            continue
        take = min(remaining, due.member_amount - due.paid_amount)
        if take <= 0:
            continue
        allocation = Allocation(payment_id=payment.id, due_id=due.id, amount=take)
        session.add(allocation)
        created.append(allocation)
        due.paid_amount += take
        if due.paid_amount >= due.member_amount:
            due.status = DueStatus.paid
        remaining -= take
    payment.unallocated = remaining
    session.flush()
    return created


def allocate(session: Session, payment: Payment) -> list[Allocation]:
    """Apply what is left of ``payment`` to the household's open dues, oldest first; the rest stays on the
    payment as credit (``unallocated``). Locks the household so two payments cannot fill one due twice."""
    _lock_household(session, payment.member_id)
    dues = _lock_open_dues(session, payment.member_id)
    payment = _lock_payment(session, payment)
    if payment.status is not PaymentStatus.valid:
        return []
    created = _spread(session, payment, dues)
    if created:
        _refresh_rights(session, payment.member_id)
    return created


def _apply_credit(session: Session, principal_id: int) -> list[Allocation]:
    _lock_household(session, principal_id)
    dues = _lock_open_dues(session, principal_id)
    if not dues:
        return []
    created: list[Allocation] = []
    for payment in _lock_credit(session, principal_id):
        created += _spread(session, payment, dues)
    return created


def apply_credit(session: Session, principal: Member, *, actor: Actor | None = None) -> list[Allocation]:
    """Use the household's credit (money paid ahead) for its open dues, oldest money on oldest dues.

    ``record_payment`` calls it; the dues generation calls it after creating a household's new dues, so a
    household that paid ahead is up to date without anyone touching it. Audited when anything moved."""
    principal = principal.principal or principal
    created = _apply_credit(session, principal.id)
    if created:
        _refresh_rights(session, principal.id)
        after = _credit_of(session, principal.id)
        record_event(
            session, actor or Actor.system("cotisations"), "contributions.credit_applied",
            target_type="member", target_id=principal.number,
            before={"credit": after + sum(a.amount for a in created)}, after={"credit": after},
            allocations=_describe(created),
        )  # fmt: skip
    return created


def _credit_of(session: Session, principal_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Payment.unallocated), 0)).where(
                Payment.member_id == principal_id, Payment.status == PaymentStatus.valid
            )
        )
        or 0
    )


def _describe(allocations: Iterable[Allocation]) -> list[dict[str, int]]:
    return [{"payment": a.payment_id, "due": a.due_id, "amount": a.amount} for a in allocations]


def _recompute_dues(session: Session, due_ids: Iterable[int]) -> None:
    """``paid_amount`` = sum of the live allocations; open or paid accordingly (cancelled dues stay so)."""
    ids = sorted(set(due_ids))
    if not ids:
        return
    session.flush()
    sums = dict(
        session.execute(
            select(Allocation.due_id, func.coalesce(func.sum(Allocation.amount), 0))
            .where(Allocation.due_id.in_(ids), Allocation.reversed_at.is_(None))
            .group_by(Allocation.due_id)
        ).all()
    )
    for due in session.scalars(select(Due).where(Due.id.in_(ids))):
        due.paid_amount = int(sums.get(due.id, 0))
        if due.status is not DueStatus.cancelled:
            due.status = DueStatus.paid if due.paid_amount >= due.member_amount else DueStatus.open


def _refresh_rights(session: Session, principal_id: int) -> None:
    """Rights depend on what is paid: let the coverage engine look at the household again.

    ``app.coverage.rights.refresh_household`` is written in parallel (rights issue); until it exists there is
    nothing to refresh. ``find_spec`` rather than ``except ImportError`` so a real import error inside that
    module still surfaces."""
    if importlib.util.find_spec("app.coverage.rights") is None:
        return
    from app.coverage import rights

    refresh = getattr(rights, "refresh_household", None)
    tenant = current_tenant_of(session)
    principal = session.get(Member, principal_id)
    if refresh is not None and tenant is not None and principal is not None:
        refresh(session, tenant, principal, clock.today())


# --- receipt numbers ---------------------------------------------------------------------------------------


def _next_receipt_number(session: Session, year: int) -> str:
    """``R-<year>-<n>``: max + 1 of the year, under the mutual's receipt lock (gapless, see module doc).

    Zero-padded numbers of one shape sort as their values in any collation, so the last one is found by a
    backward scan of the unique index within the year's range (corrections and typed numbers skipped)."""
    _lock(session, f"receipt:{year}")
    last = session.scalar(
        select(Payment.receipt_number)
        .where(
            Payment.receipt_number.between(f"R-{year}-0000000", f"R-{year}-9999999-Z"),
            Payment.receipt_number.regexp_match(f"^R-{year}-[0-9]{{7}}$"),
        )
        .order_by(Payment.receipt_number.desc())
        .limit(1)
    )
    return f"R-{year}-{int(last.rsplit('-', 1)[1]) + 1 if last else 1:07d}"


def _receipt_taken(session: Session, number: str) -> bool:
    return session.scalar(select(Payment.id).where(Payment.receipt_number == number)) is not None


def _correction_number(session: Session, original: Payment) -> str:
    """The original's number with ``-C<n>`` (the first n free), under the same lock as the sequence."""
    root = _CORRECTION.sub("", original.receipt_number)
    _lock(session, f"receipt:{original.received_on.year}")
    n = 1
    while _receipt_taken(session, f"{root}-C{n}"):
        n += 1
    return f"{root}-C{n}"


# --- recording ---------------------------------------------------------------------------------------------


def _snapshot(payment: Payment) -> dict[str, Any]:
    return {
        "receipt_number": payment.receipt_number,
        "amount": payment.amount,
        "method": str(payment.method),
        "received_on": payment.received_on.isoformat(),
        "status": str(payment.status),
        "unallocated": payment.unallocated,
        "cancelled_reason": payment.cancelled_reason,
    }


def record_payment(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    principal: Member,
    *,
    amount: int | str,
    method: str | PaymentMethod = "cash",
    received_on: dt.date | None = None,
    receipt_number: str | None = None,
    external_ref: str | None = None,
) -> Payment:
    """Money received for a household, allocated at once to its oldest dues (the rest kept as credit).

    At the association: the agent needs ``contributions.record`` on the member's association; the receipt
    is numbered by Mbolo unless a paper receipt's number is given. Online (payments package): the provider's
    reference goes in ``external_ref``; the same reference applied twice returns the first payment, so a
    webhook delivered again changes nothing."""
    principal = principal.principal or principal
    value = parse_amount(amount)
    kind = _method(method)
    today = clock.today()
    day = received_on or today
    if day > today:
        raise FieldError("received_on", _l("La date de réception est dans le futur."))
    manual = _manual_receipt(receipt_number) if (receipt_number or "").strip() else None
    ref = (external_ref or "").strip() or None
    if ref is not None and len(ref) > 100:
        raise FieldError("external_ref", _l("Référence externe trop longue."))
    check_member_scope(session, actor, principal, "contributions.record")
    if ref is not None:
        _lock(session, f"external:{ref}")
        existing = session.scalar(select(Payment).where(Payment.external_ref == ref))
        if existing is not None:
            if existing.member_id != principal.id or existing.amount != value:
                raise DomainError(_l("Cette référence de paiement a déjà servi pour un autre paiement."))
            return existing
    _lock_household(session, principal.id)
    if manual is not None:
        _lock(session, f"receipt:{day.year}")
        if _receipt_taken(session, manual):
            raise FieldError("receipt_number", _l("Ce numéro de reçu est déjà enregistré."))
    number = manual or _next_receipt_number(session, day.year)
    payment = Payment(
        member_id=principal.id, amount=value, method=kind, receipt_number=number, received_on=day,
        association_id=principal.association_id, agent_id=actor.account_id, agent_label=actor.label[:200],
        external_ref=ref, unallocated=value,
    )  # fmt: skip
    session.add(payment)
    session.flush()
    created = _apply_credit(session, principal.id)
    if created:
        _refresh_rights(session, principal.id)
    if ref is None:  # at the counter (online payments tell the member from payments.service)
        from notifications.services import notify

        notify(session, tenant, actor, event="payment.received", member=principal,
               context={"amount": value, "receipt_number": number})  # fmt: skip
    record_event(
        session, actor, "contributions.payment_recorded", target_type="payment", target_id=number,
        after={**_snapshot(payment), "member": principal.number, "external_ref": ref},
        allocations=_describe(created),
    )  # fmt: skip
    return payment


# --- cancellation and correction ---------------------------------------------------------------------------


def require_validate(session: Session, actor: Actor, payment: Payment) -> None:
    """``payments.validate`` where the money was received (404 for a payment beyond the actor's reach)."""
    node = session.get(Node, payment.association_id)
    member = session.get(Member, payment.member_id)
    paths = [n.path for n in (node, member and session.get(Node, member.association_id)) if n is not None]
    if not any(actor.can("contributions.read", p) or actor.can("payments.validate", p) for p in paths):
        raise NotFound(_l("Paiement introuvable."))
    actor.require("payments.validate", node.path if node is not None else None)


def check_cancellable(session: Session, actor: Actor, payment: Payment) -> None:
    """What the view checks before asking for a step-up: the right, and a payment still valid."""
    require_validate(session, actor, payment)
    if payment.status is PaymentStatus.cancelled:
        raise DomainError(_l("Ce paiement est déjà annulé."))


def check_correction(session: Session, actor: Actor, payment: Payment, new_amount: int | str) -> int:
    """The corrected amount, checked before the step-up: a whole positive amount, different from the
    original's, on a valid payment the actor may correct."""
    amount = parse_amount(new_amount, field="new_amount")
    check_cancellable(session, actor, payment)
    if amount == payment.amount:
        raise FieldError("new_amount", _l("C'est déjà le montant de ce paiement."))
    return amount


def _cancel(session: Session, payment: Payment, reason: str) -> tuple[Payment, dict[str, Any], list[int]]:
    """Reverse the allocations (kept, with ``reversed_at``), recompute the dues, mark the payment cancelled.
    The caller holds the household's lock."""
    live = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.payment_id == payment.id, Allocation.reversed_at.is_(None))
            .order_by(Allocation.id)
            .execution_options(populate_existing=True)
        )
    )
    due_ids = sorted({a.due_id for a in live})
    if due_ids:
        session.scalars(
            select(Due).where(Due.id.in_(due_ids)).order_by(*_due_order()).with_for_update()
        ).all()
    payment = _lock_payment(session, payment)
    if payment.status is PaymentStatus.cancelled:
        raise DomainError(_l("Ce paiement est déjà annulé."))
    before = _snapshot(payment)
    now = utcnow()
    for allocation in live:
        allocation.reversed_at = now
    payment.status, payment.cancelled_at, payment.cancelled_reason = PaymentStatus.cancelled, now, reason
    payment.unallocated = 0
    _recompute_dues(session, due_ids)
    return payment, before, [a.id for a in live]


def cancel_payment(
    session: Session, tenant: TenantRef, actor: Actor, payment: Payment, reason: str
) -> Payment:
    """Cancel a payment (a critical function: the view asks for a step-up first). Nothing is deleted: the
    allocations are marked reversed, the dues they paid are open again — and filled at once by the
    household's other credit, if any."""
    reason = clean_reason(reason)
    check_cancellable(session, actor, payment)
    _lock_household(session, payment.member_id)
    payment, before, reversed_ids = _cancel(session, payment, reason)
    reapplied = _apply_credit(session, payment.member_id)
    _refresh_rights(session, payment.member_id)
    record_event(
        session, actor, "contributions.payment_cancelled", target_type="payment",
        target_id=payment.receipt_number, before=before, after=_snapshot(payment), reason=reason,
        reversed_allocations=reversed_ids, reapplied=_describe(reapplied),
    )  # fmt: skip
    return payment


def correct_payment(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    payment: Payment,
    new_amount: int | str,
    reason: str,
) -> Payment:
    """A wrong amount: the original is cancelled (kept, with the reason) and a new payment of the right
    amount takes its place, numbered ``<original>-C<n>``, with ``corrects_id`` pointing to the original.
    Same day of receipt, method and association as the original; the corrector is its agent."""
    reason = clean_reason(reason)
    amount = check_correction(session, actor, payment, new_amount)
    _lock_household(session, payment.member_id)
    original, before, reversed_ids = _cancel(session, payment, reason)
    number = _correction_number(session, original)
    correction = Payment(
        member_id=original.member_id, amount=amount, method=original.method, receipt_number=number,
        received_on=original.received_on, association_id=original.association_id,
        agent_id=actor.account_id, agent_label=actor.label[:200], corrects_id=original.id,
        unallocated=amount,
    )  # fmt: skip
    session.add(correction)
    session.flush()
    created = _apply_credit(session, original.member_id)
    _refresh_rights(session, original.member_id)
    record_event(
        session, actor, "contributions.payment_cancelled", target_type="payment",
        target_id=original.receipt_number, before=before, after=_snapshot(original), reason=reason,
        reversed_allocations=reversed_ids, corrected_by=number,
    )  # fmt: skip
    record_event(
        session, actor, "contributions.payment_corrected", target_type="payment", target_id=number,
        before={"receipt_number": original.receipt_number, "amount": original.amount},
        after={**_snapshot(correction), "corrects": original.receipt_number}, reason=reason,
        allocations=_describe(created),
    )  # fmt: skip
    return correction


# --- reading -----------------------------------------------------------------------------------------------


def get_payment(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    public_id: str,
    *,
    permission: str = "contributions.read",
) -> Payment:
    """A payment the actor may see: received at, or for a member of, an association in their reach."""
    payment = session.scalar(select(Payment).where(Payment.public_id == public_id))
    if payment is None:
        raise NotFound(_l("Paiement introuvable."))
    member = session.get(Member, payment.member_id)
    assert member is not None
    node = session.get(Node, payment.association_id)
    if node is None or not actor.can(permission, node.path):
        check_member_scope(session, actor, member, permission)  # NotFound beyond reach
    return payment


@dataclass(frozen=True)
class Arrears:
    """Dues whose date has passed and that are not fully paid."""

    total: int
    oldest_due_date: dt.date | None
    dues: list[Due]

    @property
    def count(self) -> int:
        return len(self.dues)


def arrears(session: Session, principal: Member, on: dt.date) -> Arrears:
    """What the household should have paid before ``on`` and has not (cancelled dues do not count)."""
    principal = principal.principal or principal
    dues = list(
        session.scalars(
            select(Due)
            .where(
                Due.member_id == principal.id,
                Due.status == DueStatus.open,
                Due.due_date < on,
                Due.member_amount > Due.paid_amount,
            )
            .order_by(*_due_order())
        )
    )
    return Arrears(
        total=sum(d.outstanding for d in dues),
        oldest_due_date=dues[0].due_date if dues else None,
        dues=dues,
    )


@dataclass(frozen=True)
class HouseholdAccount:
    principal: Member
    #: Oldest first; each ``Due`` has ``paid_amount`` and ``outstanding``.
    dues: list[Due]
    #: Newest first, cancelled ones included (with their allocations, reversed or not).
    payments: list[Payment]
    #: Still to pay on the dues (all of them, future ones included), and the credit held ahead.
    outstanding: int
    credit: int
    #: subscription id → product name, to label the dues.
    products: dict[int, str] = field(default_factory=dict)

    @property
    def balance(self) -> int:
        """What the household owes net of its credit (negative: it is ahead)."""
        return self.outstanding - self.credit


def household_account(session: Session, principal: Member) -> HouseholdAccount:
    """The household's dues and payments at a glance (the caller checked the scope)."""
    principal = principal.principal or principal
    dues = list(session.scalars(select(Due).where(Due.member_id == principal.id).order_by(*_due_order())))
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.member_id == principal.id)
            .options(selectinload(Payment.allocations).selectinload(Allocation.due))
            .order_by(Payment.received_on.desc(), Payment.id.desc())
        )
    )
    products = dict(
        session.execute(
            select(Subscription.id, Product.name)
            .join(Product, Product.id == Subscription.product_id)
            .where(Subscription.member_id == principal.id)
        ).all()
    )
    return HouseholdAccount(
        principal=principal,
        dues=dues,
        payments=payments,
        outstanding=sum(d.outstanding for d in dues),
        credit=sum(p.unallocated for p in payments if p.status is PaymentStatus.valid),
        products=products,
    )


@dataclass(frozen=True)
class AgentTotal:
    label: str
    count: int
    total: int
    cash: int


@dataclass(frozen=True)
class DayPayments:
    """A day's payments at the actor's associations, for the cash count at closing time. Cancelled payments
    are listed but count for nothing."""

    day: dt.date
    payments: list[Payment]
    associations: dict[int, str]
    members: dict[int, Member]

    @property
    def valid(self) -> list[Payment]:
        return [p for p in self.payments if p.status is PaymentStatus.valid]

    @property
    def total(self) -> int:
        return sum(p.amount for p in self.valid)

    @property
    def cash_total(self) -> int:
        return sum(p.amount for p in self.valid if p.method is PaymentMethod.cash)

    @property
    def by_agent(self) -> list[AgentTotal]:
        totals: dict[str, list[int]] = {}
        for p in self.valid:
            row = totals.setdefault(p.agent_label, [0, 0, 0])
            row[0] += 1
            row[1] += p.amount
            row[2] += p.amount if p.method is PaymentMethod.cash else 0
        return [AgentTotal(label, *values) for label, values in sorted(totals.items())]


def day_payments(session: Session, tenant: TenantRef, actor: Actor, day: dt.date) -> DayPayments:
    """Payments received on ``day`` at the associations where the actor may read contributions."""
    nodes = associations_in_reach(session, actor, tenant, "contributions.read")
    names = {n.id: n.name for n in nodes}
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.received_on == day, Payment.association_id.in_(list(names)))
            .order_by(Payment.created_at, Payment.id)
        )
    )
    member_ids = {p.member_id for p in payments}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))}
    return DayPayments(day=day, payments=payments, associations=names, members=members)


# --- wording shared by the screens and the receipt ---------------------------------------------------------


def long_date(day: dt.date) -> str:
    """``1er mars 2026`` in French (the ordinal of the first), ``March 1, 2026`` in English."""
    written = format_date(day, "long")
    if day.day == 1 and str(get_locale() or "fr").startswith("fr") and written.startswith("1 "):
        return "1er" + written[1:]
    return written


def period_label(due: Due) -> str:
    """What a due is for: ``mars 2026``, ``janv. – mars 2026``, ``2026``, or the joining fee."""
    if due.kind is DueKind.joining_fee:
        return _("Droit d'adhésion")
    start, end = due.period_start, due.period_end
    whole = start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]
    if whole and (start.year, start.month) == (end.year, end.month):
        return format_date(start, "MMMM y")
    if whole and start.month == 1 and end.month == 12 and start.year == end.year:
        return str(start.year)
    if whole:
        return f"{format_date(start, 'MMM y')} – {format_date(end, 'MMM y')}"
    return f"{format_date(start, 'short')} – {format_date(end, 'short')}"
