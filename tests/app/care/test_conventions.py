"""Conventions: the version in force on a care date prices the care (a price-list change takes effect from
its date, never rewriting the past), reference grids, versions, and price lists with their rejected rows."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.care import conventions
from app.care.models import CareProvider, ConventionPrice, ConventionStatus, Pricing, ProviderKind
from app.coverage.models import Benefit, BenefitCategory
from app.errors import FieldError
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM

D = dt.date


def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


@pytest.fixture
def alpha(session: Session, world: Any) -> Iterator[Session]:
    with tenant_scope(session, world.alpha):
        yield session
        session.rollback()


def make_provider(
    session: Session, *, kind: ProviderKind = ProviderKind.health_centre, **fields: Any
) -> CareProvider:
    values = {"code": f"PS-{tag()}", "name": f"Centre {tag()}", "kind": kind, "region": "Dakar",
              "commune": "Pikine", **fields}  # fmt: skip
    provider = CareProvider(**values)
    session.add(provider)
    session.flush()
    return provider


def make_benefit(session: Session, *, reference_price: int | None = 5000, **fields: Any) -> Benefit:
    values = {"code": f"B{tag()}", "name": "Consultation", "category": BenefitCategory.consultation, **fields}
    benefit = Benefit(reference_price=reference_price, **values)
    session.add(benefit)
    session.flush()
    return benefit


def test_negotiated_price_follows_the_version_in_force_on_the_care_date(
    alpha: Session, world: Any, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-05-15")
    provider = make_provider(alpha)
    consult = make_benefit(alpha)
    first = conventions.create_convention(
        alpha, world.alpha, SYSTEM, provider, reference="CONV-1", starts_on=D(2026, 1, 1),
        status=ConventionStatus.draft,
    )  # fmt: skip
    conventions.set_price(alpha, world.alpha, SYSTEM, first, consult, 4000)
    conventions.set_status(alpha, world.alpha, SYSTEM, first, ConventionStatus.active)
    with pytest.raises(FieldError):  # in force: its prices priced care already
        conventions.set_price(alpha, world.alpha, SYSTEM, first, consult, 3000)
    second = conventions.new_version(alpha, world.alpha, SYSTEM, first, starts_on=D(2026, 7, 1))
    conventions.set_price(alpha, world.alpha, SYSTEM, second, consult, 4500)  # price-list change from July

    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2025, 12, 31)) is None
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2026, 6, 30)) == 4000
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2026, 7, 1)) == 4500
    assert (first.ends_on, first.status, second.version, second.supersedes_id) == (
        D(2026, 6, 30),
        ConventionStatus.active,
        2,
        first.id,
    )
    assert (
        alpha.scalar(select(ConventionPrice.price).where(ConventionPrice.convention_id == first.id)) == 4000
    )
    other = make_benefit(alpha)
    assert conventions.agreed_price(alpha, provider.id, other.id, D(2026, 7, 1)) is None
    with pytest.raises(FieldError):  # only the latest version can be superseded
        conventions.new_version(alpha, world.alpha, SYSTEM, first, starts_on=D(2026, 9, 1))
    actions = alpha.scalars(
        select(TenantAuditEvent.action).where(
            TenantAuditEvent.target_id.in_([first.public_id, second.public_id])
        )
    ).all()
    assert {"care.convention_created", "care.convention_superseded", "care.convention_version",
            "care.convention_price"} <= set(actions)  # fmt: skip


def test_reference_grid_applies_the_rate_to_the_catalogue_price(alpha: Session, world: Any) -> None:
    provider = make_provider(alpha, kind=ProviderKind.pharmacy)
    medicine = make_benefit(
        alpha, reference_price=1250, category=BenefitCategory.medicine, name="Amoxicilline"
    )
    no_price = make_benefit(alpha, reference_price=None)
    conventions.create_convention(
        alpha, world.alpha, SYSTEM, provider, reference="GRID", starts_on=D(2026, 1, 1),
        pricing=Pricing.reference_grid, reference_rate_pct=90,
    )  # fmt: skip
    assert conventions.agreed_price(alpha, provider.id, medicine.id, D(2026, 3, 1)) == 1125
    assert conventions.agreed_price(alpha, provider.id, no_price.id, D(2026, 3, 1)) is None


def test_draft_and_ended_conventions(alpha: Session, world: Any) -> None:
    provider = make_provider(alpha)
    consult = make_benefit(alpha)
    draft = conventions.create_convention(
        alpha, world.alpha, SYSTEM, provider, reference="D", starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31),
        status=ConventionStatus.draft, pricing=Pricing.reference_grid,
    )  # fmt: skip
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2026, 3, 1)) is None
    conventions.set_status(alpha, world.alpha, SYSTEM, draft, ConventionStatus.active)
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2026, 3, 1)) == 5000
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2027, 1, 1)) is None
    with pytest.raises(FieldError):
        conventions.new_version(alpha, world.alpha, SYSTEM, draft, starts_on=D(2025, 1, 1))


def test_csv_price_list_reports_every_rejected_row(alpha: Session, world: Any) -> None:
    provider = make_provider(alpha)
    consult = make_benefit(alpha)
    xray = make_benefit(alpha, name="Radio", category=BenefitCategory.imaging)
    retired = make_benefit(alpha, active=False)
    draft = conventions.create_convention(
        alpha, world.alpha, SYSTEM, provider, reference="CSV", starts_on=D(2030, 1, 1),
        status=ConventionStatus.draft,
    )  # fmt: skip
    text = (
        "code;libellé;prix\n"
        f"{consult.code};Consultation;4 500\n"
        "INCONNU;?;1000\n"
        f"{xray.code};Radio;douze\n"
        f"{consult.code};Consultation;4600\n"
        f"{retired.code};Ancien;200\n"
        ";sans code;300\n"
        f"{xray.code.lower()};Radio;\n"
    )
    result = conventions.import_price_list(alpha, world.alpha, SYSTEM, draft, "prix.csv", text.encode())
    assert result.accepted == 1
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "code inconnu du catalogue"),
        (4, "prix invalide (un nombre entier de francs)"),
        (5, "code en double dans le fichier"),
        (6, "prestation retirée du catalogue"),
        (7, "code manquant"),
        (8, "prix manquant"),
    ]
    conventions.set_status(alpha, world.alpha, SYSTEM, draft, ConventionStatus.active)
    assert conventions.agreed_price(alpha, provider.id, consult.id, D(2030, 2, 1)) == 4500
    assert conventions.agreed_price(alpha, provider.id, xray.id, D(2030, 2, 1)) is None
    events = alpha.scalar(
        select(func.count())
        .select_from(TenantAuditEvent)
        .where(
            TenantAuditEvent.action == "care.convention_price_list",
            TenantAuditEvent.target_id == draft.public_id,
        )
    )
    assert events == 1


def test_xlsx_price_list_and_bad_files(alpha: Session, world: Any) -> None:
    provider = make_provider(alpha)
    consult = make_benefit(alpha)
    draft = conventions.create_convention(
        alpha, world.alpha, SYSTEM, provider, reference="XLSX", starts_on=D(2030, 1, 1),
        status=ConventionStatus.draft,
    )  # fmt: skip
    book = Workbook()
    sheet = book.active
    sheet.append(["Code", "Prix"])
    sheet.append([consult.code, 3200])
    sheet.append(["NOPE", 10])
    buffer = io.BytesIO()
    book.save(buffer)
    result = conventions.import_price_list(
        alpha, world.alpha, SYSTEM, draft, "grille.xlsx", buffer.getvalue()
    )
    assert (result.accepted, [(r.line, r.code) for r in result.rejected]) == (1, [(3, "NOPE")])
    assert (
        alpha.scalar(select(ConventionPrice.price).where(ConventionPrice.convention_id == draft.id)) == 3200
    )
    with pytest.raises(FieldError):
        conventions.import_price_list(alpha, world.alpha, SYSTEM, draft, "grille.pdf", b"%PDF")
    with pytest.raises(FieldError):
        conventions.import_price_list(alpha, world.alpha, SYSTEM, draft, "grille.csv", b"nom;montant\nx;1\n")
    with pytest.raises(FieldError):
        conventions.import_price_list(alpha, world.alpha, SYSTEM, draft, "grille.xlsx", b"not a zip")
