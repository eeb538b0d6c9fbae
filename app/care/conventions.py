"""Conventions: which version is in force on a day, the agreed price of an act or medicine, new versions
(superseding from a date, nothing overwritten), prices by form or CSV/XLSX price list."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.care.models import CareProvider, Convention, ConventionPrice, ConventionStatus, Pricing
from app.coverage.models import Benefit
from app.errors import FieldError, NotFound

PRICING_LABELS = {
    Pricing.negotiated: _l("Prix négociés par acte et médicament"),
    Pricing.reference_grid: _l("Grille de référence du catalogue × taux"),
}
STATUS_LABELS = {
    ConventionStatus.draft: _l("Brouillon"),
    ConventionStatus.active: _l("En vigueur"),
    ConventionStatus.ended: _l("Terminée"),
}


def convention_on(session: Session, provider_id: int, day: dt.date) -> Convention | None:
    """The convention version in force for ``provider_id`` on ``day`` (active or ended, not draft; the latest
    start on or before the day wins, so a new version supersedes the old one from its start date)."""
    return session.scalars(
        select(Convention)
        .where(
            Convention.provider_id == provider_id,
            Convention.status != ConventionStatus.draft,
            Convention.starts_on <= day,
            (Convention.ends_on.is_(None)) | (Convention.ends_on >= day),
        )
        .order_by(Convention.starts_on.desc(), Convention.version.desc())
        .limit(1)
    ).first()


def price_in(session: Session, convention: Convention, benefit_id: int) -> int | None:
    """The price of ``benefit_id`` under ``convention`` (None: not in it)."""
    if convention.pricing == Pricing.reference_grid:
        # a negotiated exception in a reference-grid convention wins over the grid
        own = session.scalar(
            select(ConventionPrice.price).where(
                ConventionPrice.convention_id == convention.id, ConventionPrice.benefit_id == benefit_id
            )
        )
        if own is not None:
            return own
        reference = session.scalar(
            select(Benefit.reference_price).where(Benefit.id == benefit_id, Benefit.active.is_(True))
        )
        if reference is None:
            return None
        return (reference * convention.reference_rate_pct + 50) // 100
    return session.scalar(
        select(ConventionPrice.price).where(
            ConventionPrice.convention_id == convention.id, ConventionPrice.benefit_id == benefit_id
        )
    )


def agreed_price(session: Session, provider_id: int, benefit_id: int, day: dt.date) -> int | None:
    """The price agreed with the provider for the benefit under the convention in force on ``day``:
    the negotiated price, or the catalogue's reference price × ``reference_rate_pct`` / 100 (rounded to the
    franc) for a reference-grid convention. None: no convention that day, or the benefit is not in it."""
    convention = convention_on(session, provider_id, day)
    if convention is None:
        return None
    return price_in(session, convention, benefit_id)


# --- versions ------------------------------------------------------------------------------------------


def create_convention(
    session: Session,
    tenant,
    actor,
    provider: CareProvider,
    *,
    reference: str,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    pricing: Pricing = Pricing.negotiated,
    reference_rate_pct: int = 100,
    payment_delay_days: int = 30,
    status: ConventionStatus = ConventionStatus.active,
    document_path: str | None = None,
) -> Convention:
    """The first version of a convention with a provider (later changes go through ``new_version``)."""
    _check_terms(starts_on, ends_on, reference_rate_pct, payment_delay_days)
    if not reference.strip():
        raise FieldError("reference", _l("Indiquez la référence de la convention."))
    convention = Convention(
        provider_id=provider.id,
        reference=reference.strip(),
        version=1,
        starts_on=starts_on,
        ends_on=ends_on,
        pricing=Pricing(pricing),
        reference_rate_pct=reference_rate_pct,
        payment_delay_days=payment_delay_days,
        status=ConventionStatus(status),
        document_path=document_path,
    )
    session.add(convention)
    session.flush()
    record_event(
        session, actor, "care.convention_created", target_type="convention", target_id=convention.public_id,
        after=_snapshot(convention),
    )  # fmt: skip
    return convention


def new_version(
    session: Session,
    tenant,
    actor,
    previous: Convention,
    *,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    pricing: Pricing | None = None,
    reference_rate_pct: int | None = None,
    payment_delay_days: int | None = None,
    copy_prices: bool = True,
    document_path: str | None = None,
) -> Convention:
    """A new version superseding ``previous`` from ``starts_on``: the previous version ends the day before
    (its rows and prices stay as they were, so care before that date keeps its price)."""
    if starts_on <= previous.starts_on:
        raise FieldError(
            "starts_on", _l("La nouvelle version doit commencer après le début de la version en cours.")
        )
    later = session.scalar(select(Convention.id).where(Convention.supersedes_id == previous.id))
    if later is not None:
        raise FieldError(
            "starts_on", _l("Cette version a déjà été remplacée : partez de la dernière version.")
        )
    rate = previous.reference_rate_pct if reference_rate_pct is None else reference_rate_pct
    delay = previous.payment_delay_days if payment_delay_days is None else payment_delay_days
    _check_terms(starts_on, ends_on, rate, delay)
    before = _snapshot(previous)
    previous.ends_on = starts_on - dt.timedelta(days=1)
    if previous.status == ConventionStatus.active and previous.ends_on < _today():
        previous.status = ConventionStatus.ended
    convention = Convention(
        provider_id=previous.provider_id,
        reference=previous.reference,
        version=previous.version + 1,
        starts_on=starts_on,
        ends_on=ends_on,
        pricing=Pricing(pricing) if pricing else previous.pricing,
        reference_rate_pct=rate,
        payment_delay_days=delay,
        status=ConventionStatus.active,
        document_path=document_path or previous.document_path,
        supersedes_id=previous.id,
    )
    session.add(convention)
    session.flush()
    if copy_prices:
        for price in previous.prices:
            session.add(
                ConventionPrice(convention_id=convention.id, benefit_id=price.benefit_id, price=price.price)
            )
        session.flush()
    record_event(
        session, actor, "care.convention_superseded", target_type="convention", target_id=previous.public_id,
        before=before, after=_snapshot(previous),
    )  # fmt: skip
    record_event(
        session, actor, "care.convention_version", target_type="convention", target_id=convention.public_id,
        after=_snapshot(convention),
    )  # fmt: skip
    return convention


def set_status(session: Session, tenant, actor, convention: Convention, status: ConventionStatus) -> None:
    before = _snapshot(convention)
    convention.status = ConventionStatus(status)
    session.flush()
    record_event(
        session, actor, "care.convention_status", target_type="convention", target_id=convention.public_id,
        before=before, after=_snapshot(convention),
    )  # fmt: skip


def set_document(session: Session, tenant, actor, convention: Convention, path: str) -> None:
    before = _snapshot(convention)
    convention.document_path = path
    session.flush()
    record_event(
        session, actor, "care.convention_document", target_type="convention", target_id=convention.public_id,
        before=before, after=_snapshot(convention),
    )  # fmt: skip


def set_price(session: Session, tenant, actor, convention: Convention, benefit: Benefit, price: int) -> None:
    """Set one price of a version. A version whose start date has passed is not edited (its prices priced
    care already): change prices through a new version."""
    _check_editable(convention)
    if price < 0:
        raise FieldError("price", _l("Le prix doit être positif ou nul."))
    row = session.scalar(
        select(ConventionPrice).where(
            ConventionPrice.convention_id == convention.id, ConventionPrice.benefit_id == benefit.id
        )
    )
    before = {"price": row.price} if row else None
    if row is None:
        row = ConventionPrice(convention_id=convention.id, benefit_id=benefit.id, price=price)
        session.add(row)
    else:
        row.price = price
    session.flush()
    record_event(
        session, actor, "care.convention_price", target_type="convention", target_id=convention.public_id,
        before=before, after={"benefit": benefit.code, "price": price},
    )  # fmt: skip


def _check_editable(convention: Convention) -> None:
    if convention.status != ConventionStatus.draft and convention.starts_on <= _today():
        raise FieldError(
            "price",
            _l("Cette version est déjà en vigueur : créez une nouvelle version pour changer ses prix."),
        )


def _check_terms(starts_on, ends_on, rate, delay) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise FieldError("ends_on", _l("La date de fin doit suivre la date de début."))
    if not 1 <= rate <= 500:
        raise FieldError("reference_rate_pct", _l("Le taux doit être compris entre 1 et 500 %."))
    if not 0 <= delay <= 365:
        raise FieldError(
            "payment_delay_days", _l("Le délai de paiement doit être compris entre 0 et 365 jours.")
        )


def _today() -> dt.date:
    from app.clock import today

    return today()


def _snapshot(c: Convention) -> dict:
    return {
        "reference": c.reference, "version": c.version, "starts_on": c.starts_on.isoformat(),
        "ends_on": c.ends_on.isoformat() if c.ends_on else None, "pricing": str(c.pricing),
        "reference_rate_pct": c.reference_rate_pct, "payment_delay_days": c.payment_delay_days,
        "status": str(c.status), "document_path": c.document_path,
    }  # fmt: skip


# --- price lists -----------------------------------------------------------------------------------------


@dataclass
class RejectedRow:
    line: int
    code: str
    reason: str


@dataclass
class PriceListResult:
    accepted: int
    rejected: list[RejectedRow]


def read_price_list(filename: str, data: bytes) -> list[tuple[int, str, str]]:
    """Rows (line number, benefit code, price text) of a CSV (``;`` or ``,``) or XLSX price list with the
    columns ``code`` and ``prix`` (or ``price``), headers on the first line."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            raise FieldError("file", _l("Ce fichier XLSX est illisible.")) from exc
        sheet = book.worksheets[0]
        raw = [
            ["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)
        ]
        book.close()
    elif name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252")
        dialect = ";" if text.split("\n", 1)[0].count(";") >= text.split("\n", 1)[0].count(",") else ","
        raw = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), delimiter=dialect)]
    else:
        raise FieldError("file", _l("Envoyez un fichier CSV ou XLSX."))
    if not raw:
        raise FieldError("file", _l("Le fichier est vide."))
    header = [h.strip().lower() for h in raw[0]]
    try:
        code_col = header.index("code")
    except ValueError as exc:
        raise FieldError(
            "file", _l("La première ligne doit nommer les colonnes « code » et « prix ».")
        ) from exc
    price_col = next((header.index(h) for h in ("prix", "price", "tarif") if h in header), None)
    if price_col is None:
        raise FieldError("file", _l("La première ligne doit nommer les colonnes « code » et « prix »."))
    rows = []
    for number, row in enumerate(raw[1:], start=2):
        if not any(row):
            continue
        code = row[code_col] if code_col < len(row) else ""
        price = row[price_col] if price_col < len(row) else ""
        rows.append((number, code, price))
    return rows


def import_price_list(
    session: Session, tenant, actor, convention: Convention, filename: str, data: bytes
) -> PriceListResult:
    """Apply a price list to a version not yet in force; every rejected row is reported with its reason
    and the accepted rows are applied."""
    _check_editable(convention)
    rows = read_price_list(filename, data)
    benefits = {b.code.upper(): b for b in session.scalars(select(Benefit))}
    seen: set[str] = set()
    rejected: list[RejectedRow] = []
    accepted = 0
    existing = {p.benefit_id: p for p in convention.prices}
    for line, code, price_text in rows:
        key = code.strip().upper()
        benefit = benefits.get(key)
        if not key:
            rejected.append(RejectedRow(line, code, str(_l("code manquant"))))
            continue
        if benefit is None:
            rejected.append(RejectedRow(line, code, str(_l("code inconnu du catalogue"))))
            continue
        if not benefit.active:
            rejected.append(RejectedRow(line, code, str(_l("prestation retirée du catalogue"))))
            continue
        if key in seen:
            rejected.append(RejectedRow(line, code, str(_l("code en double dans le fichier"))))
            continue
        cleaned = price_text.replace(" ", "").replace("\u202f", "").replace("\xa0", "")
        if cleaned.endswith(".0"):
            cleaned = cleaned[:-2]
        if not cleaned:
            rejected.append(RejectedRow(line, code, str(_l("prix manquant"))))
            continue
        if not cleaned.isdigit():
            rejected.append(RejectedRow(line, code, str(_l("prix invalide (un nombre entier de francs)"))))
            continue
        price = int(cleaned)
        if price <= 0:
            rejected.append(RejectedRow(line, code, str(_l("prix nul"))))
            continue
        seen.add(key)
        row = existing.get(benefit.id)
        if row is None:
            row = ConventionPrice(convention_id=convention.id, benefit_id=benefit.id, price=price)
            session.add(row)
            existing[benefit.id] = row
        else:
            row.price = price
        accepted += 1
    session.flush()
    record_event(
        session, actor, "care.convention_price_list", target_type="convention",
        target_id=convention.public_id,
        after={"file": filename, "accepted": accepted, "rejected": len(rejected)},
    )  # fmt: skip
    return PriceListResult(accepted=accepted, rejected=rejected)


def get_convention(session: Session, public_id: str) -> Convention:
    convention = session.scalar(select(Convention).where(Convention.public_id == public_id))
    if convention is None:
        raise NotFound("convention")
    return convention
