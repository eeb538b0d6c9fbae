"""The benefits catalogue (acts, services and medicines) and what each product does for each benefit.

Products refer to catalogue rows by id and claims will by code, so a benefit is never deleted: it is
withdrawn (``active=False``). The essential-medicines list arrives as a CSV from the ministry or the PNA; its
import is idempotent (by code, else by INN + form + strength), so the same list loaded twice changes nothing,
and every refused line comes back with its reason. Coverage rules change what the mutual pays: their views
ask for a step-up approval (``products.coverage``) before calling ``set_product_benefit``/``exclude_benefit``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.coverage.models import Benefit, BenefitCategory, Product, ProductBenefit
from app.coverage.products import (
    Collector,
    FieldErrors,
    money,
    parse_int,
    parse_money,
    require_manage,
    require_read,
)
from app.errors import DomainError, FieldError, NotFound
from app.security.actor import Actor
from tenants.context import TenantRef

CATEGORY_LABELS = {
    BenefitCategory.consultation: _l("Consultation"),
    BenefitCategory.hospitalisation: _l("Hospitalisation"),
    BenefitCategory.maternity: _l("Maternité"),
    BenefitCategory.laboratory: _l("Laboratoire"),
    BenefitCategory.imaging: _l("Imagerie"),
    BenefitCategory.dental: _l("Dentaire"),
    BenefitCategory.optical: _l("Optique"),
    BenefitCategory.medicine: _l("Médicament"),
    BenefitCategory.other: _l("Autre"),
}
SEX_LABELS = {"F": _l("Femmes"), "M": _l("Hommes")}
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,29}$")
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # the national list is a few hundred lines: 5 MB is a wrong file
MAX_IMPORT_ROWS = 5_000
PER_PAGE = 50


# --- the catalogue -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenefitInput:
    """A catalogue entry as typed. For a medicine the name may be left blank: it is built from the INN,
    strength and form ("Paracétamol 500 mg comprimé")."""

    code: object
    name: object
    category: object
    inn: object = ""
    form: object = ""
    strength: object = ""
    reference_price: object = ""


@dataclass(frozen=True)
class CleanBenefit:
    code: str
    name: str
    category: BenefitCategory
    inn: str | None
    form: str | None
    strength: str | None
    reference_price: int | None


def _text(value: object, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def _plain(value: str) -> str:
    """Casefolded, without accents or spaces: "Comprimé " and "comprime" are the same form."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


def medicine_key(inn: str | None, form: str | None, strength: str | None) -> tuple[str, str, str]:
    """What identifies a medicine when no code is given."""
    return _plain(inn or ""), _plain(form or ""), _plain(strength or "")


def medicine_code(inn: str, form: str, strength: str) -> str:
    """A stable code for a medicine listed without one (the same line always gets the same code)."""
    digest = hashlib.sha256("|".join(medicine_key(inn, form, strength)).encode()).hexdigest()
    return f"MED-{digest[:8].upper()}"


def medicine_name(inn: str, form: str, strength: str) -> str:
    return " ".join(part for part in (inn, strength, form) if part)[:200]


def clean_benefit(data: BenefitInput) -> CleanBenefit:
    """Check a catalogue entry; ``FieldErrors`` names every wrong field."""
    errors = Collector()
    code = re.sub(r"\s", "", str(data.code or "")).upper()
    if not code:
        errors.add("code", _l("Indiquez le code de la prestation."))
    elif not _CODE.fullmatch(code):
        errors.add("code", _l("Code : lettres, chiffres, « . », « - » ou « _ », 30 caractères au plus."))
    try:
        category = BenefitCategory(str(data.category or "").strip())
    except ValueError:
        category = None
        errors.add("category", _l("Choisissez une catégorie."))
    inn, form, strength = _text(data.inn, 120), _text(data.form, 60), _text(data.strength, 60)
    name = _text(data.name, 200)
    if category is BenefitCategory.medicine:
        if not inn:
            errors.add("inn", _l("Indiquez la DCI (dénomination commune internationale)."))
        if not form:
            errors.add("form", _l("Indiquez la forme (comprimé, sirop, injectable…)."))
        name = name or medicine_name(inn, form, strength)
    else:
        inn = form = strength = ""
    if not name and category is not BenefitCategory.medicine:  # a medicine's name comes from its INN
        errors.add("name", _l("Indiquez le libellé de la prestation."))
    price = errors.run(parse_money, data.reference_price, "reference_price", required=False)
    errors.raise_if_any()
    assert category is not None
    return CleanBenefit(code, name, category, inn or None, form or None, strength or None, price)


def _benefit_data(benefit: Benefit) -> dict[str, Any]:
    return {
        "code": benefit.code, "name": benefit.name, "category": benefit.category.value, "inn": benefit.inn,
        "form": benefit.form, "strength": benefit.strength, "reference_price": benefit.reference_price,
        "active": benefit.active,
    }  # fmt: skip


@dataclass(frozen=True)
class BenefitPage:
    items: list[Benefit]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def list_benefits(
    session: Session, tenant: TenantRef, actor: Actor, *, category: str | None = None, q: str = "",
    active_only: bool = False, page: int = 1, per_page: int = PER_PAGE,
) -> BenefitPage:  # fmt: skip
    """The catalogue, by category then name; ``q`` matches the code, name or INN."""
    require_read(session, tenant, actor)
    query = select(Benefit)
    if category in {c.value for c in BenefitCategory}:
        query = query.where(Benefit.category == BenefitCategory(category))
    if active_only:
        query = query.where(Benefit.active.is_(True))
    words = q.strip()[:100]
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        query = query.where(
            or_(Benefit.code.ilike(pattern), Benefit.name.ilike(pattern), Benefit.inn.ilike(pattern))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = session.scalars(
        query.order_by(Benefit.category, Benefit.name).limit(per_page).offset((page - 1) * per_page)
    )
    return BenefitPage(list(items), total, page, per_page)


def get_benefit(session: Session, tenant: TenantRef, actor: Actor, code: str) -> Benefit:
    require_read(session, tenant, actor)
    benefit = session.scalar(select(Benefit).where(Benefit.code == code.strip().upper()))
    if benefit is None:
        raise NotFound(_l("Prestation introuvable."))
    return benefit


def create_benefit(session: Session, tenant: TenantRef, actor: Actor, data: BenefitInput) -> Benefit:
    require_manage(session, tenant, actor)
    clean = clean_benefit(data)
    if session.scalar(select(Benefit.id).where(Benefit.code == clean.code)) is not None:
        raise FieldError("code", _l("Une prestation porte déjà ce code."))
    if clean.category is BenefitCategory.medicine:
        twin = _medicine_twin(session, clean)
        if twin is not None:
            raise FieldError("inn", _l("Ce médicament figure déjà au catalogue : %(code)s.", code=twin.code))
    benefit = Benefit(**asdict(clean))
    session.add(benefit)
    session.flush()
    record_event(
        session, actor, "benefits.created", target_type="benefit", target_id=benefit.code,
        after=_benefit_data(benefit),
    )  # fmt: skip
    return benefit


def _medicine_twin(session: Session, clean: CleanBenefit, exclude: int | None = None) -> Benefit | None:
    key = medicine_key(clean.inn, clean.form, clean.strength)
    rows = session.scalars(
        select(Benefit).where(
            Benefit.category == BenefitCategory.medicine, func.lower(Benefit.inn) == (clean.inn or "").lower()
        )
    )
    return next((b for b in rows if b.id != exclude and medicine_key(b.inn, b.form, b.strength) == key), None)


def update_benefit(
    session: Session, tenant: TenantRef, actor: Actor, benefit: Benefit, data: BenefitInput, *,
    active: bool = True,
) -> Benefit:  # fmt: skip
    """Change an entry (its code stays: claims and imports refer to it) or withdraw it (``active=False``)."""
    require_manage(session, tenant, actor)
    clean = clean_benefit(BenefitInput(**{**asdict(data), "code": benefit.code}))
    if clean.category is BenefitCategory.medicine:
        twin = _medicine_twin(session, clean, exclude=benefit.id)
        if twin is not None:
            raise FieldError("inn", _l("Ce médicament figure déjà au catalogue : %(code)s.", code=twin.code))
    before = _benefit_data(benefit)
    for name, value in asdict(clean).items():
        setattr(benefit, name, value)
    benefit.active = active
    after = _benefit_data(benefit)
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        session.flush()
        record_event(
            session, actor, "benefits.updated", target_type="benefit", target_id=benefit.code,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return benefit


# --- the essential medicines import ------------------------------------------------------------------------

#: Column → accepted headers (compared without case, accents or punctuation).
_COLUMNS = {
    "code": {"code", "codeproduit", "codearticle", "ref", "reference"},
    "inn": {"inn", "dci", "denominationcommuneinternationale", "nomgenerique", "molecule", "substance"},
    "form": {"form", "forme", "formegalenique", "formepharmaceutique", "presentation"},
    "strength": {"strength", "dosage", "concentration", "teneur"},
    "reference_price": {"referenceprice", "price", "prix", "prixreference", "prixdereference", "tarif"},
    "name": {"name", "nom", "libelle", "designation"},
}
_REQUIRED = ("inn", "form", "strength")


@dataclass
class ImportReport:
    """What an import did: counts, and every refused line with its reason (line numbers as in the file,
    the header being line 1)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.rejected)


def _header_key(header: str) -> str:
    plain = _plain(header)
    plain = re.sub(r"\(.*?\)", "", plain)  # "Prix (F CFA)" → "prix"
    return re.sub(r"[^0-9a-z]", "", plain)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FieldError("file", _l("Encodage non reconnu : enregistrez le fichier en CSV UTF-8."))


def read_medicines(data: bytes) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Column positions and (line, cells) of a CSV list (``;`` or ``,``; UTF-8 or Windows-1252)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise FieldError("file", _l("Fichier trop gros (5 Mo au plus)."))
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FieldError("file", _l("Envoyez la liste au format CSV (dans Excel : Enregistrer sous → CSV)."))
    text = _decode(data)
    if "\x00" in text:
        raise FieldError("file", _l("Ce fichier n'est pas un CSV."))
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise FieldError("file", _l("Le fichier est vide."))
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[tuple[int, list[str]]] = []
    header: dict[str, int] | None = None
    try:
        for line, cells in enumerate(records, start=1):
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if header is None:
                header = {}
                for position, cell in enumerate(cells):
                    key = _header_key(cell)
                    column = next((c for c, names in _COLUMNS.items() if key in names), None)
                    if column is None and key.startswith("prix"):
                        column = "reference_price"
                    if column and column not in header:
                        header[column] = position
                continue
            lines.append((line, cells))
            if len(lines) > MAX_IMPORT_ROWS:
                raise FieldError(
                    "file", _l("Plus de %(max)s lignes : découpez la liste.", max=MAX_IMPORT_ROWS)
                )
    except csv.Error as bad:
        raise FieldError("file", _l("Ce fichier n'est pas un CSV lisible.")) from bad
    assert header is not None
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise FieldError(
            "file",
            _l(
                "Colonnes attendues : DCI, Forme, Dosage (et, si vous les avez, Code et Prix). "
                "La première ligne doit donner le nom des colonnes."
            ),
        )
    if not lines:
        raise FieldError("file", _l("Le fichier ne contient que l'en-tête : aucune ligne à importer."))
    return header, lines


def _import_price(raw: str) -> int | None:
    """Prices exported by a spreadsheet may read "1 500,00": zero cents are fine, others are not."""
    return parse_money(re.sub(r"[.,]0+$", "", raw.strip()), "reference_price", required=False)


def import_medicines_csv(
    session: Session, tenant: TenantRef, actor: Actor, file: bytes | IO[bytes], *, filename: str = ""
) -> ImportReport:
    """Load a list of essential medicines into the catalogue. A line matches an entry by its code, else by
    INN + form + strength; matched entries get the line's name and price, new ones are created (with a
    stable code when the list gives none). Importing the same list again creates and changes nothing."""
    require_manage(session, tenant, actor)
    data = file if isinstance(file, bytes) else file.read()
    header, lines = read_medicines(data)
    medicines = list(session.scalars(select(Benefit)))
    by_code = {b.code: b for b in medicines}
    by_key = {
        medicine_key(b.inn, b.form, b.strength): b
        for b in medicines
        if b.category is BenefitCategory.medicine
    }
    report, seen_codes, seen_keys = ImportReport(), dict[str, int](), dict[tuple[str, str, str], int]()
    created: list[str] = []
    updated: dict[str, dict[str, Any]] = {}

    def cell(cells: list[str], column: str) -> str:
        position = header.get(column)
        return cells[position] if position is not None and position < len(cells) else ""

    for line, cells in lines:
        try:
            raw_code = cell(cells, "code")
            clean = clean_benefit(
                BenefitInput(
                    code=raw_code or "X", name=cell(cells, "name"), category=BenefitCategory.medicine.value,
                    inn=cell(cells, "inn"), form=cell(cells, "form"), strength=cell(cells, "strength"),
                    reference_price=_import_price(cell(cells, "reference_price")),
                )
            )  # fmt: skip
        except FieldError as error:
            errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
            reason = "; ".join(f"{_LABELS.get(k, k)} : {m}" for k, m in errors.items())
            report.rejected.append((line, reason))
            continue
        key = medicine_key(clean.inn, clean.form, clean.strength)
        code = clean.code if raw_code else None
        if code and code in seen_codes:
            reason = _l("Code en double (déjà ligne %(line)s).", line=seen_codes[code])
            report.rejected.append((line, str(reason)))
            continue
        if key in seen_keys:
            report.rejected.append(
                (line, str(_l("Médicament en double (déjà ligne %(line)s).", line=seen_keys[key])))
            )
            continue
        existing = by_code.get(code) if code else by_key.get(key)
        if code and existing is not None and existing.category is not BenefitCategory.medicine:
            reason = _l("Ce code est celui d'une prestation qui n'est pas un médicament.")
            report.rejected.append((line, str(reason)))
            continue
        twin = by_key.get(key)
        if code and twin is not None and twin is not existing:
            reason = _l("Ce médicament figure déjà au catalogue sous le code %(code)s.", code=twin.code)
            report.rejected.append((line, str(reason)))
            continue
        if code:
            seen_codes[code] = line
        seen_keys[key] = line
        if existing is None:
            new_code = code or medicine_code(clean.inn or "", clean.form or "", clean.strength or "")
            if new_code in by_code:
                report.rejected.append((line, str(_l("Le code %(code)s est déjà pris.", code=new_code))))
                continue
            benefit = Benefit(**{**asdict(clean), "code": new_code})
            session.add(benefit)
            by_code[new_code], by_key[key] = benefit, benefit
            created.append(new_code)
            report.created += 1
            continue
        before = _benefit_data(existing)
        renamed = medicine_key(existing.inn, existing.form, existing.strength) != key
        existing.inn, existing.form, existing.strength = clean.inn, clean.form, clean.strength
        by_key[key] = existing
        if cell(cells, "name") or renamed:
            existing.name = clean.name
        if clean.reference_price is not None:
            existing.reference_price = clean.reference_price
        existing.active = True
        after = _benefit_data(existing)
        changed = [k for k in after if after[k] != before[k]]
        if changed:
            updated[existing.code] = {
                "before": {k: before[k] for k in changed},
                "after": {k: after[k] for k in changed},
            }
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    record_event(
        session, actor, "benefits.medicines_imported", target_type="benefit", target_id=filename[:64] or None,
        created=created, updated=updated, unchanged=report.unchanged,
        rejected=[{"line": line, "reason": reason} for line, reason in report.rejected],
    )  # fmt: skip
    return report


_LABELS: dict[str, object] = {
    "code": _l("Code"), "inn": _l("DCI"), "form": _l("Forme"), "strength": _l("Dosage"),
    "reference_price": _l("Prix"), "name": _l("Libellé"),
}  # fmt: skip


# --- what a product does for a benefit ---------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRules:
    """Checked rules of one benefit in one product."""

    rate_percent: int = 80
    reference_price: int | None = None
    ceiling_per_act: int | None = None
    ceiling_per_beneficiary_year: int | None = None
    ceiling_per_household_year: int | None = None
    frequency_count: int | None = None
    frequency_months: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    sex: str | None = None
    prior_approval: bool = False

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


_RULES = tuple(CoverageRules.__dataclass_fields__)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().casefold() in {"1", "y", "yes", "on", "true", "oui", "o"}
    return bool(value)


def clean_coverage(**rules: object) -> CoverageRules:
    """Check the rules of a covered benefit (values as typed or as numbers). ``FieldErrors`` names every
    wrong field: rate 0–100 %, ceilings ≥ 0, a frequency as a count *and* a period (or neither), ages in
    order, sex F, M or both."""
    unknown = set(rules) - set(_RULES)
    if unknown:
        raise TypeError(f"unknown coverage rules: {sorted(unknown)}")
    errors = Collector()
    rate_raw = rules.get("rate_percent", 80)
    rate_raw = rate_raw.replace("%", "") if isinstance(rate_raw, str) else rate_raw
    rate = errors.run(parse_int, rate_raw, "rate_percent", maximum=100)
    amounts = {
        name: errors.run(parse_money, rules.get(name), name, required=False)
        for name in ("reference_price", "ceiling_per_act", "ceiling_per_beneficiary_year",
                     "ceiling_per_household_year")
    }  # fmt: skip
    count = errors.run(parse_int, rules.get("frequency_count"), "frequency_count", minimum=1, maximum=100,
                       required=False)  # fmt: skip
    months = errors.run(parse_int, rules.get("frequency_months"), "frequency_months", minimum=1, maximum=120,
                        required=False)  # fmt: skip
    if "frequency_count" not in errors.errors and "frequency_months" not in errors.errors:
        if count is not None and months is None:
            errors.add("frequency_months", _l("Indiquez aussi la période (en mois) de cette limite."))
        elif months is not None and count is None:
            errors.add("frequency_count", _l("Indiquez aussi le nombre d'actes permis sur cette période."))
    min_age = errors.run(parse_int, rules.get("min_age"), "min_age", maximum=120, required=False)
    max_age = errors.run(parse_int, rules.get("max_age"), "max_age", maximum=120, required=False)
    if min_age is not None and max_age is not None and min_age > max_age:
        errors.add("max_age", _l("L'âge maximum doit être au moins égal à l'âge minimum."))
    sex = str(rules.get("sex") or "").strip().upper() or None
    if sex not in {None, "F", "M"}:
        errors.add("sex", _l("Choisissez femmes, hommes, ou les deux."))
    ceiling_act = amounts["ceiling_per_act"]
    for wider in ("ceiling_per_beneficiary_year", "ceiling_per_household_year"):
        if ceiling_act is not None and amounts[wider] is not None and amounts[wider] < ceiling_act:
            errors.add(wider, _l("Ce plafond annuel est plus bas que le plafond par acte."))
    errors.raise_if_any()
    return CoverageRules(
        rate_percent=rate, frequency_count=count, frequency_months=months, min_age=min_age, max_age=max_age,
        sex=sex, prior_approval=_flag(rules.get("prior_approval", False)), **amounts,
    )  # fmt: skip


def _coverage_data(row: ProductBenefit | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"covered": row.covered, **{name: getattr(row, name) for name in _RULES}}


def product_benefit(session: Session, product: Product, benefit: Benefit) -> ProductBenefit | None:
    return session.scalar(
        select(ProductBenefit).where(
            ProductBenefit.product_id == product.id, ProductBenefit.benefit_id == benefit.id
        )
    )


def coverage_of(session: Session, tenant: TenantRef, actor: Actor, product: Product) -> list[ProductBenefit]:
    """The product's rules, covered and excluded, by category then name."""
    require_read(session, tenant, actor)
    rows = session.scalars(select(ProductBenefit).where(ProductBenefit.product_id == product.id))
    return sorted(rows, key=lambda r: (r.benefit.category.value, r.benefit.name.casefold()))


def _locked_row(session: Session, product: Product, benefit: Benefit) -> ProductBenefit | None:
    return session.scalar(
        select(ProductBenefit)
        .where(ProductBenefit.product_id == product.id, ProductBenefit.benefit_id == benefit.id)
        .with_for_update(of=ProductBenefit)
    )


def set_product_benefit(
    session: Session, tenant: TenantRef, actor: Actor, product: Product, benefit: Benefit, **rules: object
) -> ProductBenefit:
    """Cover ``benefit`` in ``product`` with these rules (replacing earlier ones). A critical function: the
    view asks for a step-up approval of ``clean_coverage(**rules).as_data()`` first."""
    require_manage(session, tenant, actor)
    clean = clean_coverage(**rules)
    if not benefit.active:
        raise DomainError(_l("Cette prestation est retirée du catalogue : elle ne peut plus être couverte."))
    row = _locked_row(session, product, benefit)
    before = _coverage_data(row)
    if row is None:
        row = ProductBenefit(product_id=product.id, benefit_id=benefit.id)
        row.benefit = benefit
        session.add(row)
    row.covered = True
    for name, value in clean.as_data().items():
        setattr(row, name, value)
    return _audit_coverage(session, actor, product, benefit, row, before, "products.coverage_set")


def exclude_benefit(
    session: Session, tenant: TenantRef, actor: Actor, product: Product, benefit: Benefit
) -> ProductBenefit:
    """Say explicitly that ``product`` does not cover ``benefit`` (the earlier rules are kept, so covering
    it again starts from them). A critical function, like ``set_product_benefit``."""
    require_manage(session, tenant, actor)
    row = _locked_row(session, product, benefit)
    before = _coverage_data(row)
    if row is None:
        row = ProductBenefit(product_id=product.id, benefit_id=benefit.id)
        row.benefit = benefit
        session.add(row)
    row.covered = False
    return _audit_coverage(session, actor, product, benefit, row, before, "products.coverage_excluded")


def _audit_coverage(
    session: Session, actor: Actor, product: Product, benefit: Benefit, row: ProductBenefit,
    before: Mapping[str, Any] | None, action: str,
) -> ProductBenefit:  # fmt: skip
    session.flush()
    after = _coverage_data(row)
    assert after is not None
    changed = [k for k in after if before is None or after[k] != before[k]]
    if changed:
        record_event(
            session, actor, action, target_type="product_benefit", target_id=f"{product.code}/{benefit.code}",
            before={k: before[k] for k in changed} if before else None,
            after={k: after[k] for k in changed},
        )  # fmt: skip
    return row


def describe_coverage(row: ProductBenefit | None) -> str:
    """A product's rule for one benefit in plain words, e.g. "80 % (ticket modérateur 20 %), plafond
    10 000 F CFA par acte, 1 tous les 24 mois, accord préalable"."""
    if row is None:
        return _("non renseignée")
    if not row.covered:
        return _("exclue")
    parts = [
        _("%(rate)s %% (ticket modérateur %(rest)s %%)", rate=row.rate_percent, rest=100 - row.rate_percent)
    ]
    if row.reference_price is not None:
        parts.append(_("tarif de référence %(amount)s", amount=money(row.reference_price)))
    if row.ceiling_per_act is not None:
        parts.append(_("plafond %(amount)s par acte", amount=money(row.ceiling_per_act)))
    if row.ceiling_per_beneficiary_year is not None:
        parts.append(
            _("%(amount)s par bénéficiaire et par an", amount=money(row.ceiling_per_beneficiary_year))
        )
    if row.ceiling_per_household_year is not None:
        parts.append(_("%(amount)s par foyer et par an", amount=money(row.ceiling_per_household_year)))
    if row.frequency_count is not None and row.frequency_months is not None:
        parts.append(
            _("%(count)s tous les %(months)s mois", count=row.frequency_count, months=row.frequency_months)
        )
    if row.min_age is not None or row.max_age is not None:
        parts.append(
            _(
                "de %(low)s à %(high)s ans",
                low=row.min_age or 0,
                high=row.max_age if row.max_age is not None else 120,
            )
        )
    if row.sex:
        parts.append(str(SEX_LABELS[row.sex]).lower())
    if row.prior_approval:
        parts.append(_("accord préalable"))
    return ", ".join(parts)
