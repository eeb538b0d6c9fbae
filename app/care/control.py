"""Medical control: a multi-criteria search of care lines with totals, and fraud or abuse signals for the
médecin-conseil (``care.medical_control``), each reviewed and closed with a comment.

Signals (``detect``, over a period; a signal is raised once, its ``key`` naming what it is about):
- ``provider_cost``: a provider whose average amount asked per visit is above the mean of its peers (the
  other providers of the same kind with visits in the period) by more than two standard deviations **and**
  by at least half of that mean (the second bar keeps a tight peer group from flagging small gaps). The
  provider is left out of its own reference group, so that one outlier does not hide itself.
- ``frequent_visits``: a beneficiary with more visits (care records) in the period than the others' mean
  plus three standard deviations, and at least ``min_visits``.
- ``same_day_providers``: one beneficiary seen by two or more *consulting* providers (hospital, health
  centre, health post, dentist, optician, other) on the same day — a pharmacy, laboratory or imaging centre
  after a consultation is the normal path and is not counted.
- ``care_after_exit``: care dated after the day the member died or left the mutual.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event, record_read
from app.care.claims_models import CareLine, CareRecord
from app.care.models import CareProvider, CareSignal, ProviderKind, SignalKind, SignalStatus
from app.care.providers import require_in_branch
from app.coverage.models import Benefit
from app.database import utcnow
from app.errors import DomainError, FieldError, NotFound
from app.members import numbers
from app.members.models import Member, MemberStatus, MemberStatusEvent
from app.security.actor import Actor
from tenants.context import TenantRef

PERMISSION = "care.medical_control"
CONSULTING = (
    ProviderKind.hospital, ProviderKind.health_centre, ProviderKind.health_post, ProviderKind.dentist,
    ProviderKind.optician, ProviderKind.other,
)  # fmt: skip
SIGNAL_LABELS = {
    SignalKind.provider_cost: _l("Coût moyen par visite très au-dessus des pairs"),
    SignalKind.frequent_visits: _l("Fréquence de visites inhabituelle"),
    SignalKind.same_day_providers: _l("Carte utilisée chez deux prestataires le même jour"),
    SignalKind.care_after_exit: _l("Soins après décès ou radiation"),
}


# --- search ------------------------------------------------------------------------------------------------


@dataclass
class CareFilters:
    member: str = ""  # a member number
    provider_id: int | None = None
    provider_kind: str = ""  # e.g. pharmacy
    benefit: str = ""  # a catalogue code (act or medicine)
    category: str = ""  # a benefit category (medicine, consultation…)
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass
class Totals:
    lines: int = 0
    visits: int = 0
    beneficiaries: int = 0
    quantity: int = 0
    amount_asked: int = 0
    amount_accepted: int = 0
    member_share: int = 0


@dataclass
class SearchResult:
    rows: list = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    page: int = 1
    per_page: int = 50


def _filtered(query: Select, session: Session, filters: CareFilters) -> Select:
    query = (
        query.join(CareRecord, CareRecord.id == CareLine.record_id)
        .join(CareProvider, CareProvider.id == CareRecord.provider_id)
        .join(Benefit, Benefit.id == CareLine.benefit_id)
    )
    if filters.member.strip():
        parsed = numbers.parse(filters.member)
        if parsed is None:
            raise FieldError("member", _l("Numéro de membre invalide (vérifiez chaque caractère)."))
        member_id = session.scalar(select(Member.id).where(Member.number == str(parsed)))
        query = query.where(CareRecord.member_id == (member_id or -1))
    if filters.provider_id:
        query = query.where(CareRecord.provider_id == filters.provider_id)
    if filters.provider_kind:
        query = query.where(CareProvider.kind == filters.provider_kind)
    if filters.benefit.strip():
        query = query.where(Benefit.code == filters.benefit.strip().upper())
    if filters.category:
        query = query.where(Benefit.category == filters.category)
    if filters.date_from:
        query = query.where(CareRecord.care_date >= filters.date_from)
    if filters.date_to:
        query = query.where(CareRecord.care_date <= filters.date_to)
    return query


def search(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    filters: CareFilters,
    *,
    page: int = 1,
    per_page: int = 50,
) -> SearchResult:
    """Care lines matching every filter given, newest first, with totals over all of them (audited: medical
    data)."""
    require_in_branch(session, tenant, actor, PERMISSION)
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise FieldError("date_to", _l("La fin de la période doit suivre son début."))
    totals_query = _filtered(
        select(
            func.count(CareLine.id), func.count(distinct(CareRecord.id)),
            func.count(distinct(CareRecord.member_id)),
            func.coalesce(func.sum(CareLine.quantity), 0), func.coalesce(func.sum(CareLine.amount_asked), 0),
            func.coalesce(func.sum(CareLine.amount_accepted), 0),
            func.coalesce(func.sum(CareLine.member_share), 0),
        ).select_from(CareLine),
        session, filters,
    )  # fmt: skip
    found = session.execute(totals_query).one()
    totals = Totals(*(int(v) for v in found))
    page = max(1, page)
    rows = session.execute(
        _filtered(select(CareLine, CareRecord, CareProvider, Benefit).select_from(CareLine), session, filters)
        .order_by(CareRecord.care_date.desc(), CareLine.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    member_ids = {r[1].member_id for r in rows}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))}
    result = SearchResult(
        rows=[(line, record, provider, benefit, members.get(record.member_id))
              for line, record, provider, benefit in rows],
        totals=totals, page=page, per_page=per_page,
    )  # fmt: skip
    record_read(
        session, actor, "care_search", None, member=filters.member or None, provider_id=filters.provider_id,
        kind=filters.provider_kind or None, benefit=filters.benefit or None,
        category=filters.category or None,
        date_from=filters.date_from.isoformat() if filters.date_from else None,
        date_to=filters.date_to.isoformat() if filters.date_to else None, lines=totals.lines,
    )  # fmt: skip
    return result


# --- signals -----------------------------------------------------------------------------------------------


@dataclass
class DetectReport:
    created: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.created.values())


def _raise(session: Session, report: DetectReport, key: str, **values: object) -> None:
    if session.scalar(select(CareSignal.id).where(CareSignal.key == key)) is not None:
        return
    session.add(CareSignal(key=key, **values))
    kind = str(values["kind"])
    report.created[kind] = report.created.get(kind, 0) + 1


def _outliers(values: dict[int, float], *, sigmas: float, floor_ratio: float, minimum: float = 0) -> dict:
    """Keys whose value exceeds the others' mean + ``sigmas`` σ and the mean × (1 + ``floor_ratio``)."""
    found = {}
    for key, value in values.items():
        others = [v for k, v in values.items() if k != key]
        if len(others) < 2:
            continue
        mean = statistics.fmean(others)
        sigma = statistics.pstdev(others)
        threshold = max(mean + sigmas * sigma, mean * (1 + floor_ratio), minimum)
        if value > threshold:
            found[key] = (value, threshold)
    return found


def detect(
    session: Session, tenant: TenantRef, actor: Actor, *, start: dt.date, end: dt.date, min_visits: int = 6
) -> DetectReport:
    """Look for the four kinds of signal in care dated from ``start`` to ``end``; new ones are stored."""
    require_in_branch(session, tenant, actor, PERMISSION)
    if end < start:
        raise FieldError("end", _l("La fin de la période doit suivre son début."))
    report = DetectReport()
    period = {"period_start": start, "period_end": end}
    in_period = and_(CareRecord.care_date >= start, CareRecord.care_date <= end)

    # 1. providers' average cost per visit against their peers of the same kind
    visits = (
        select(
            CareRecord.provider_id, CareProvider.kind, func.count(distinct(CareRecord.id)).label("visits"),
            func.coalesce(func.sum(CareLine.amount_asked), 0).label("asked"),
        )
        .join(CareLine, CareLine.record_id == CareRecord.id)
        .join(CareProvider, CareProvider.id == CareRecord.provider_id)
        .where(in_period)
        .group_by(CareRecord.provider_id, CareProvider.kind)
    )  # fmt: skip
    by_kind: dict[str, dict[int, float]] = {}
    for provider_id, kind, count, asked in session.execute(visits):
        by_kind.setdefault(str(kind), {})[provider_id] = int(asked) / count
    for kind, averages in by_kind.items():
        for provider_id, (value, threshold) in _outliers(averages, sigmas=2, floor_ratio=0.5).items():
            _raise(
                session, report, f"provider_cost:{provider_id}:{start}:{end}", kind=SignalKind.provider_cost,
                provider_id=provider_id, value=round(value), threshold=round(threshold),
                detail=f"{kind}: {round(value)} F par visite, seuil {round(threshold)} F", **period,
            )  # fmt: skip

    # 2. beneficiaries' visit frequency
    counts = {
        member_id: float(count)
        for member_id, count in session.execute(
            select(CareRecord.member_id, func.count(CareRecord.id))
            .where(in_period)
            .group_by(CareRecord.member_id)
        )
    }
    for member_id, (value, threshold) in _outliers(
        counts, sigmas=3, floor_ratio=1.0, minimum=min_visits - 0.5
    ).items():
        _raise(
            session, report, f"frequent_visits:{member_id}:{start}:{end}", kind=SignalKind.frequent_visits,
            member_id=member_id, value=int(value), threshold=int(threshold),
            detail=f"{int(value)} visites, seuil {int(threshold)}", **period,
        )  # fmt: skip

    # 3. one card at two consulting providers the same day
    same_day = (
        select(CareRecord.member_id, CareRecord.care_date, func.count(distinct(CareRecord.provider_id)))
        .join(CareProvider, CareProvider.id == CareRecord.provider_id)
        .where(in_period, CareProvider.kind.in_([str(k) for k in CONSULTING]))
        .group_by(CareRecord.member_id, CareRecord.care_date)
        .having(func.count(distinct(CareRecord.provider_id)) > 1)
    )
    for member_id, day, count in session.execute(same_day):
        _raise(
            session, report, f"same_day_providers:{member_id}:{day}", kind=SignalKind.same_day_providers,
            member_id=member_id, value=int(count), period_start=day, period_end=day,
            detail=f"{count} prestataires le {day:%d/%m/%Y}",
        )  # fmt: skip

    # 4. care after death or departure (the latest such status change in force)
    exits = (
        select(MemberStatusEvent.member_id, func.max(MemberStatusEvent.effective_on).label("exit_on"))
        .join(Member, Member.id == MemberStatusEvent.member_id)
        .where(
            MemberStatusEvent.to_status.in_([MemberStatus.deceased.value, MemberStatus.left.value]),
            Member.status.in_([MemberStatus.deceased, MemberStatus.left]),
        )
        .group_by(MemberStatusEvent.member_id)
        .subquery()
    )
    after = (
        select(
            CareRecord.id, CareRecord.member_id, CareRecord.provider_id, CareRecord.care_date, exits.c.exit_on
        )
        .join(exits, exits.c.member_id == CareRecord.member_id)
        .where(in_period, CareRecord.care_date > exits.c.exit_on)
    )
    for record_id, member_id, provider_id, day, exit_on in session.execute(after):
        _raise(
            session, report, f"care_after_exit:{record_id}", kind=SignalKind.care_after_exit,
            member_id=member_id, provider_id=provider_id, period_start=day, period_end=day,
            detail=f"soins du {day:%d/%m/%Y}, sortie le {exit_on:%d/%m/%Y}",
        )  # fmt: skip
    session.flush()
    record_event(
        session, actor, "care.signals_detected", target_type="care_signals", target_id=None,
        after={"start": start.isoformat(), "end": end.isoformat(), **report.created},
    )  # fmt: skip
    return report


def list_signals(
    session: Session, tenant: TenantRef, actor: Actor, *, status: str = "open", kind: str = ""
) -> list[CareSignal]:
    require_in_branch(session, tenant, actor, PERMISSION)
    query = select(CareSignal).order_by(CareSignal.raised_at.desc(), CareSignal.id.desc()).limit(300)
    if status:
        query = query.where(CareSignal.status == status)
    if kind:
        query = query.where(CareSignal.kind == kind)
    return list(session.scalars(query))


def get_signal(session: Session, tenant: TenantRef, actor: Actor, public_id: str) -> CareSignal:
    require_in_branch(session, tenant, actor, PERMISSION)
    signal = session.scalar(select(CareSignal).where(CareSignal.public_id == public_id))
    if signal is None:
        raise NotFound(_l("Signal introuvable."))
    return signal


def close_signal(session: Session, tenant: TenantRef, actor: Actor, signal: CareSignal, comment: str) -> None:
    """The médecin-conseil closes a reviewed signal; the comment says what was found."""
    require_in_branch(session, tenant, actor, PERMISSION)
    if signal.status == SignalStatus.closed:
        raise DomainError(_l("Ce signal est déjà clos."))
    comment = (comment or "").strip()
    if not comment:
        raise FieldError("comment", _l("Indiquez ce que la revue a établi."))
    signal.status = SignalStatus.closed
    signal.closed_at = utcnow()
    signal.closed_by_label = actor.label[:200]
    signal.close_comment = comment[:1000]
    session.flush()
    record_event(
        session, actor, "care.signal_closed", target_type="care_signal", target_id=signal.public_id,
        before={"status": "open"}, after={"status": "closed", "comment": signal.close_comment},
    )  # fmt: skip
