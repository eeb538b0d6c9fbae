"""The reference pricing of one due, in plain Python.

``price`` is the rule as the mutual reads it; ``app.contributions.dues`` prices a whole tenant in one SQL
statement per chunk and must give exactly the same amounts (``tests/app/contributions/test_dues.py``
compares both on varied cases). Change one, change the other.

Decisions (kept identical in the SQL):
- A person is covered unless they left or died (pending, active and suspended count: a suspension pauses
  rights, not the household's composition).
- A child (relation ``child``) aged ``child_age_limit`` or more on the period start is not covered — the
  same reading as the member register's rule ("un enfant de 21 ans ou plus ne peut pas être ayant droit").
- At most ``max_beneficiaries`` covered persons count, the adhérent included, lowest household rank first
  (the adhérent is rank 0; an ayant droit, the rank in its number; equal ranks, the older record first).
- Bands: the first band (lowest ``low``, then ``high``, then id) whose range holds the value; none → the
  version's flat ``amount``. Bands of the other dimension are ignored.
- Subsidies, in id order: a percentage (rounded to whole XOF, half up) or a fixed amount per due; each is
  capped at what the earlier ones left, so their sum never exceeds the gross amount.
- A subscription keeps the rhythm of the tariff it started with; a later version with another periodicity
  is prorated to that rhythm (``period_months``), rounded half up.
- The joining fee is its own due, not subsidised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from app.coverage.models import (
    BandDimension,
    Basis,
    Periodicity,
    ProductVersion,
    TariffBand,
    VersionSubsidy,
)
from app.members.models import Member

#: Statuses of persons who still count in a household (the member register's COVERED).
COVERED_STATUSES = frozenset({"pending", "active", "suspended"})
#: The household rank inside a member number (``ART-004512-02-C`` → 2), read the same way in SQL.
RANK_PATTERN = r"^[^-]+-[^-]+-([0-9]+)-"
#: A number without a readable rank sorts after every ranked person.
NO_RANK = 1_000_000
_RANK = re.compile(RANK_PATTERN)


class Person(NamedTuple):
    """One member of a household as pricing sees it, on the period start."""

    age: int
    relation: str  # principal | spouse | child | other
    status: str  # a MemberStatus value
    rank: int  # 0 = the adhérent


class Price(NamedTuple):
    amount: int  # gross contribution
    subsidy_amount: int  # the funders' share
    member_amount: int  # what the household pays


def rank_of(number: str) -> int:
    found = _RANK.match(number or "")
    return int(found.group(1)) if found else NO_RANK


def household_at(members: Iterable[Member], day: dt.date) -> list[Person]:
    """The household as ``price`` takes it: ages on ``day`` (the period start); the adhérent ranks 0, an
    ayant droit has the rank of its number."""
    ordered = sorted(members, key=lambda m: m.id or 0)
    return [
        Person(m.age_on(day), str(m.relation), str(m.status), rank_of(m.number) if m.principal_id else 0)
        for m in ordered
    ]


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves up (non-negative values)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _bands(version: ProductVersion, dimension: BandDimension) -> list[TariffBand]:
    chosen = [b for b in version.bands if str(b.dimension) == dimension.value]
    return sorted(chosen, key=lambda b: (b.low, b.high, b.id or 0))


def band_amount(version: ProductVersion, dimension: BandDimension, value: int) -> int:
    """The first band holding ``value``, else the flat amount."""
    for band in _bands(version, dimension):
        if band.low <= value <= band.high:
            return band.amount
    return version.amount


def covered(version: ProductVersion, household: Sequence[Person]) -> list[Person]:
    """Who counts: not left or deceased, children under the age limit, at most ``max_beneficiaries``."""
    kept = [
        p
        for p in household
        if p.status in COVERED_STATUSES
        and not (
            p.relation == "child" and version.child_age_limit is not None and p.age >= version.child_age_limit
        )
    ]
    kept = sorted(kept, key=lambda p: p.rank)  # stable: equal ranks keep the household's order (ids)
    if version.max_beneficiaries is not None:
        kept = kept[: max(0, version.max_beneficiaries)]
    return kept


def gross(version: ProductVersion, household: Sequence[Person]) -> int:
    """The contribution for one period of the version's own periodicity, before subsidies."""
    basis = Basis(str(version.basis))
    if basis is Basis.per_adherent:
        principal = next((p for p in household if p.relation == "principal"), None)
        if principal is None:
            return version.amount
        return band_amount(version, BandDimension.age, principal.age)
    persons = covered(version, household)
    if basis is Basis.per_beneficiary:
        return sum(band_amount(version, BandDimension.age, p.age) for p in persons)
    return band_amount(version, BandDimension.household_size, len(persons))


def _raw_subsidy(subsidy: VersionSubsidy, amount: int) -> int:
    if subsidy.percent is not None:
        return half_up(amount * subsidy.percent, 100)
    return subsidy.amount or 0


def subsidy_shares(subsidies: Iterable[VersionSubsidy], amount: int) -> list[tuple[str, int]]:
    """Each funder's share of a due of ``amount``, in id order, capped at what is left."""
    shares, claimed = [], 0
    for subsidy in sorted(subsidies, key=lambda s: s.id or 0):
        raw = _raw_subsidy(subsidy, amount)
        shares.append((subsidy.funder, max(0, min(raw, amount - claimed))))
        claimed += raw
    return shares


def price(
    version: ProductVersion,
    household: Sequence[Person | Member],
    period_start: dt.date,
    *,
    period_months: int | None = None,
) -> Price:
    """(amount, subsidy_amount, member_amount) of the due of the period starting ``period_start``.

    ``household`` lists every person of the household (adhérent included) as ``Person`` tuples, or as
    ``Member`` rows (then aged on ``period_start``). ``period_months`` is the subscription's rhythm when it
    differs from the version's periodicity (the amount is prorated)."""
    persons = [
        p if isinstance(p, Person) else household_at([p], period_start)[0]  # type: ignore[list-item]
        for p in household
    ]
    amount = gross(version, persons)
    version_months = Periodicity(str(version.periodicity)).months
    if period_months is not None and period_months != version_months:
        amount = half_up(amount * period_months, version_months)
    subsidy = sum(share for _funder, share in subsidy_shares(version.subsidies, amount))
    return Price(amount, subsidy, amount - subsidy)


def joining_fee(version: ProductVersion) -> Price:
    """The joining fee due once at the start of a subscription (not subsidised)."""
    return Price(version.joining_fee, 0, version.joining_fee)
