"""Care records from a CSV or XLSX file (openpyxl) onto a draft invoice: one row per line, rows sharing a
``reference`` form one record (one visit). Every rejected row is reported with its reason; the reference is
the record's ``external_ref``, so sending the same file twice adds nothing.

Columns (header row, any order, case-insensitive): ``reference, numero_membre, date_soins, code_acte,
quantite, prix_unitaire`` and optionally ``prescripteur, diagnostic, lettre_garantie``."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.care import records
from app.care.claims_models import CareInvoice, CareRecord
from app.care.models import CareProvider
from app.dates import parse_day
from app.errors import DomainError, FieldError
from app.security.actor import Actor
from tenants.context import TenantRef

REQUIRED = ("reference", "numero_membre", "date_soins", "code_acte", "quantite", "prix_unitaire")
MAX_ROWS = 20_000


@dataclass
class ImportResult:
    created: int = 0
    already: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def read_rows(filename: str, data: bytes) -> list[dict[str, str]]:
    """The rows as dicts keyed by lower-case header (row numbers start at 2, after the header)."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception as bad:  # noqa: BLE001 - any unreadable file reads the same to the user
            raise FieldError("file", _l("Fichier XLSX illisible.")) from bad
        values = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    else:
        text = data.decode("utf-8-sig", errors="replace")
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;\t")
        values = list(csv.reader(io.StringIO(text), dialect))
    if not values:
        raise FieldError("file", _l("Le fichier est vide."))
    header = [h.strip().lower() for h in values[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FieldError("file", _l("Colonnes manquantes : %(cols)s.", cols=", ".join(missing)))
    if len(values) - 1 > MAX_ROWS:
        raise FieldError("file", _l("Au plus %(n)s lignes par fichier.", n=MAX_ROWS))
    return [dict(zip(header, (v.strip() for v in row), strict=False)) for row in values[1:] if any(row)]


def _day_of(raw: str) -> Any:
    return parse_day(raw.split(" ")[0], "date_soins")  # XLSX dates read as "2027-03-05 00:00:00"


def import_records(
    session: Session, tenant: TenantRef, actor: Actor, invoice: CareInvoice, filename: str, data: bytes
) -> ImportResult:
    provider = session.get(CareProvider, invoice.provider_id)
    assert provider is not None
    records.check_provider(session, actor, provider.id)
    rows = read_rows(filename, data)
    result = ImportResult()
    groups: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for number, row in enumerate(rows, start=2):
        reference = row.get("reference", "")
        if not reference:
            result.rejected.append((number, str(_l("Référence manquante."))))
            continue
        groups[reference].append((number, row))
    for reference, group in groups.items():
        first = group[0][1]
        lines, numbers = [], []
        for number, row in group:
            if not (row.get("code_acte") and row.get("quantite") and row.get("prix_unitaire")):
                result.rejected.append((number, str(_l("Code, quantité et prix attendus."))))
                continue
            lines.append(records.LineInput(row["code_acte"], row["quantite"], row["prix_unitaire"]))
            numbers.append(number)
        if not lines:
            continue
        existing = (
            session.query(CareRecord.id).filter_by(provider_id=provider.id, external_ref=reference).first()
        )
        if existing is not None:
            result.already += 1
            continue
        try:
            with session.begin_nested():
                record = records.create_record(
                    session,
                    tenant,
                    actor,
                    provider,
                    records.RecordInput(
                        member_number=first.get("numero_membre", ""),
                        care_date=_day_of(first.get("date_soins", "")),
                        lines=lines,
                        prescriber=first.get("prescripteur", ""),
                        diagnosis=first.get("diagnostic") or None,
                        letter_number=first.get("lettre_garantie") or None,
                        external_ref=reference,
                    ),
                    invoice=invoice,
                    audit=False,
                )
        except DomainError as error:
            index = 0
            if isinstance(error, FieldError) and error.field.startswith("lines-"):
                index = int(error.field.split("-")[1])
                result.rejected.append((numbers[index], str(error.message)))
                others = [n for i, n in enumerate(numbers) if i != index]
                for n in others:
                    result.rejected.append(
                        (
                            n,
                            str(
                                _l(
                                    "Prestation %(ref)s rejetée avec la ligne %(n)s.",
                                    ref=reference,
                                    n=numbers[index],
                                )
                            ),
                        )
                    )
            else:
                for n in numbers:
                    result.rejected.append((n, str(error.message)))
            continue
        result.created += 1 if record is not None else 0
    result.rejected.sort()
    record_event(
        session,
        actor,
        "care.records_imported",
        target_type="care_invoice",
        target_id=invoice.number,
        filename=filename[:120],
        created=result.created,
        already=result.already,
        rejected=len(result.rejected),
    )
    return result
