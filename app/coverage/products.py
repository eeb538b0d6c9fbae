"""Products and their tariffs. A tariff is never edited: a change is a new version from a date (a critical
function), so the dues already called keep the tariff that priced them and the history reads as it was.

Every function runs in the tenant's scope (the caller binds it), takes the actor explicitly, flushes and never
commits. Input comes as typed (strings) and is checked here, so a refused form comes back with every wrong
field named at once (``FieldErrors``), in the user's language. Money is integer XOF.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import clock, dates
from app.audit.services import record_event
from app.contributions.models import Due
from app.coverage.models import (
    BandDimension,
    Basis,
    Periodicity,
    Product,
    ProductVersion,
    TariffBand,
    VersionSubsidy,
)
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.formatting import money
from app.security.actor import Actor
from tenants.context import TenantRef
from tenants.models import Tenant

#: Who may read products and the catalogue (agents explain them to members, accountants price dues).
READ_PERMISSIONS = ("members.read", "contributions.read")
MANAGE = "products.manage"

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
_BLANKS = re.compile(r"[\s\u00a0\u202f]")
MAX_AGE = 120
MAX_HOUSEHOLD = 50
MAX_AMOUNT = 100_000_000  # far above any contribution: catches a key held down, not a real price

BASIS_LABELS = {
    Basis.per_adherent: _l("par adhérent"),
    Basis.per_beneficiary: _l("par bénéficiaire"),
    Basis.per_household: _l("par foyer"),
}
PERIODICITY_LABELS = {
    Periodicity.monthly: _l("mensuelle"),
    Periodicity.quarterly: _l("trimestrielle"),
    Periodicity.half_yearly: _l("semestrielle"),
    Periodicity.yearly: _l("annuelle"),
}
_PER_PERIOD = {
    Periodicity.monthly: _l("par mois"),
    Periodicity.quarterly: _l("par trimestre"),
    Periodicity.half_yearly: _l("par semestre"),
    Periodicity.yearly: _l("par an"),
}
DIMENSION_LABELS = {BandDimension.age: _l("âge"), BandDimension.household_size: _l("taille du foyer")}
#: The band dimension each basis prices by (the age of the person priced; the size of the household).
DIMENSION_FOR_BASIS = {
    Basis.per_adherent: BandDimension.age,
    Basis.per_beneficiary: BandDimension.age,
    Basis.per_household: BandDimension.household_size,
}


class FieldErrors(FieldError):
    """Several wrong fields at once (``errors``: field → message). It is a ``FieldError`` of its first field,
    so ``show_error`` still places that one; the coverage views place them all."""

    def __init__(self, errors: Mapping[str, object]) -> None:
        first = next(iter(errors))
        super().__init__(first, errors[first])
        self.errors = dict(errors)


class Collector:
    """Gathers field errors so a form is answered in one round trip (3G: every round trip costs)."""

    def __init__(self) -> None:
        self.errors: dict[str, object] = {}

    def add(self, name: str, message: object) -> None:
        self.errors.setdefault(name, message)

    def run(self, check: Any, *args: Any, **kwargs: Any) -> Any:
        """``check(*args, **kwargs)``, or None after recording its ``FieldError``."""
        try:
            return check(*args, **kwargs)
        except FieldErrors as many:
            for name, message in many.errors.items():
                self.add(name, message)
        except FieldError as error:
            self.add(error.field, error.message)
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


# --- parsing typed values ----------------------------------------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_int(
    value: object, name: str, *, minimum: int = 0, maximum: int | None = None, required: bool = True
) -> int | None:
    """An integer typed as "2 000" or "2000" (spaces as thousands separators); decimals are refused."""
    if _blank(value):
        if required:
            raise FieldError(name, _l("Ce champ est obligatoire."))
        return None
    if isinstance(value, bool):
        raise FieldError(name, _l("Nombre entier attendu."))
    if isinstance(value, int):
        number = value
    else:
        text = _BLANKS.sub("", str(value))
        if re.fullmatch(r"-?\d+[.,]\d*", text):
            raise FieldError(name, _l("Nombre entier attendu, sans décimales."))
        if not re.fullmatch(r"-?\d+", text):
            raise FieldError(name, _l("Nombre entier attendu."))
        number = int(text)
    if number < minimum:
        raise FieldError(name, _l("La valeur doit être au moins %(min)s.", min=minimum))
    if maximum is not None and number > maximum:
        raise FieldError(name, _l("La valeur doit être au plus %(max)s.", max=format_decimal(maximum)))
    return number


def parse_money(value: object, name: str, *, required: bool = True) -> int | None:
    """An amount in F CFA: a whole, non-negative number (XOF has no cents). "12.500" is read as 12 500, the
    way amounts are often written in Senegal; "12,50" is refused."""
    if isinstance(value, str):
        text = _BLANKS.sub("", value)
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
            value = text.replace(".", "")
        elif re.fullmatch(r"\d+[.,]\d*", text):
            raise FieldError(name, _l("Montant en francs CFA, sans centimes."))
    try:
        return parse_int(value, name, minimum=0, maximum=MAX_AMOUNT, required=required)
    except FieldError as error:
        if "-" in str(value):
            raise FieldError(name, _l("Le montant ne peut pas être négatif.")) from error
        raise


def parse_date(value: object, name: str, *, required: bool = True) -> dt.date | None:
    """A date typed as JJ/MM/AAAA (or AAAA-MM-JJ, what a date picker sends)."""
    if isinstance(value, dt.date):
        return value
    if _blank(value):
        if required:
            raise FieldError(name, _l("Indiquez la date (JJ/MM/AAAA)."))
        return None
    return dates.parse_day(str(value), name)


def _choice(value: object, kind: type[Any], name: str, message: object) -> Any:
    try:
        return kind(str(value or "").strip())
    except ValueError as bad:
        raise FieldError(name, message) from bad


def _text(value: object, name: str, limit: int, *, required: bool = False, message: object = None) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise FieldError(name, message or _l("Ce champ est obligatoire."))
    if len(text) > limit:
        raise FieldError(name, _l("%(max)s caractères au plus.", max=limit))
    return text


# --- tariffs -----------------------------------------------------------------------------------------------


class BandInput(NamedTuple):
    """One band as typed: amount per period for ages (or household sizes) from ``low`` to ``high``.
    A blank dimension means the basis's own (age, or household size for a per-household contribution)."""

    dimension: object
    low: object
    high: object
    amount: object


class SubsidyInput(NamedTuple):
    """A funder's share as typed: a percentage of each due, or a fixed amount per due (one of the two)."""

    funder: object
    percent: object = ""
    amount: object = ""


@dataclass(frozen=True)
class TariffInput:
    """A tariff as typed in the form (strings). Blank band or subsidy rows are ignored, so the form can
    offer a few empty rows; errors name the row (``bands-2-low``) as the form does."""

    basis: object
    amount: object
    periodicity: object
    joining_fee: object = "0"
    waiting_days: object = "0"
    grace_days: object = "0"
    max_beneficiaries: object = ""
    child_age_limit: object = ""
    bands: Sequence[BandInput | Sequence[object]] = ()
    subsidies: Sequence[SubsidyInput | Sequence[object]] = ()


@dataclass(frozen=True)
class Band:
    dimension: BandDimension
    low: int
    high: int
    amount: int


@dataclass(frozen=True)
class Subsidy:
    funder: str
    percent: int | None
    amount: int | None


@dataclass(frozen=True)
class Tariff:
    """A checked tariff: the values of one ``ProductVersion``."""

    basis: Basis
    amount: int
    periodicity: Periodicity
    joining_fee: int = 0
    waiting_days: int = 0
    grace_days: int = 0
    max_beneficiaries: int | None = None
    child_age_limit: int | None = None
    bands: tuple[Band, ...] = ()
    subsidies: tuple[Subsidy, ...] = field(default=())

    @classmethod
    def of(cls, version: ProductVersion) -> Tariff:
        return cls(
            basis=version.basis, amount=version.amount, periodicity=version.periodicity,
            joining_fee=version.joining_fee, waiting_days=version.waiting_days, grace_days=version.grace_days,
            max_beneficiaries=version.max_beneficiaries, child_age_limit=version.child_age_limit,
            bands=tuple(Band(b.dimension, b.low, b.high, b.amount) for b in version.bands),
            subsidies=tuple(Subsidy(s.funder, s.percent, s.amount) for s in version.subsidies),
        )  # fmt: skip

    def as_data(self) -> dict[str, Any]:
        """Plain values: the audit's before/after and the digest a step-up approval is bound to."""
        data = asdict(self)
        data["basis"], data["periodicity"] = self.basis.value, self.periodicity.value
        data["bands"] = [{**asdict(b), "dimension": b.dimension.value} for b in self.bands]
        data["subsidies"] = [asdict(s) for s in self.subsidies]
        return data


def _row(values: BandInput | SubsidyInput | Sequence[object], size: int) -> list[object]:
    cells = list(values)
    return (cells + [""] * size)[:size]


def _clean_bands(raw: Iterable[Any], basis: Basis | None, errors: Collector) -> list[Band]:
    bands: list[tuple[int, Band]] = []
    for index, values in enumerate(raw):
        dimension_raw, low_raw, high_raw, amount_raw = _row(values, 4)
        if all(_blank(v) for v in (low_raw, high_raw, amount_raw)):
            continue
        name = f"bands-{index}-"
        expected = DIMENSION_FOR_BASIS.get(basis) if basis else None
        if _blank(dimension_raw):
            dimension = expected
        else:
            dimension = errors.run(
                _choice, dimension_raw, BandDimension, f"{name}dimension",
                _l("Choisissez l'âge ou la taille du foyer."),
            )  # fmt: skip
            if dimension is not None and expected is not None and dimension is not expected:
                errors.add(
                    f"{name}dimension",
                    _l("Pour une cotisation par foyer, les tranches portent sur la taille du foyer.")
                    if basis is Basis.per_household
                    else _l(
                        "Pour une cotisation par adhérent ou par bénéficiaire, "
                        "les tranches portent sur l'âge."
                    ),
                )
                dimension = None
        top = MAX_HOUSEHOLD if dimension is BandDimension.household_size else MAX_AGE
        bottom = 1 if dimension is BandDimension.household_size else 0
        low = errors.run(parse_int, low_raw, f"{name}low", minimum=bottom, maximum=top)
        high = errors.run(parse_int, high_raw, f"{name}high", minimum=bottom, maximum=top)
        amount = errors.run(parse_money, amount_raw, f"{name}amount")
        if low is not None and high is not None and low > high:
            errors.add(f"{name}high", _l("La fin de la tranche doit être au moins égale à son début."))
            continue
        if dimension is not None and None not in (low, high, amount):
            bands.append((index, Band(dimension, low, high, amount)))
    ordered = sorted(bands, key=lambda item: item[1].low)
    for (_i, previous), (index, band) in zip(ordered, ordered[1:], strict=False):
        if band.low <= previous.high:
            errors.add(
                f"bands-{index}-low",
                _l(
                    "Cette tranche chevauche la tranche de %(low)s à %(high)s.",
                    low=previous.low, high=previous.high,
                ),
            )  # fmt: skip
    return [band for _i, band in ordered]


def _clean_subsidies(raw: Iterable[Any], errors: Collector) -> list[tuple[int, Subsidy]]:
    subsidies: list[tuple[int, Subsidy]] = []
    seen: set[str] = set()
    for index, values in enumerate(raw):
        funder_raw, percent_raw, amount_raw = _row(values, 3)
        if all(_blank(v) for v in (funder_raw, percent_raw, amount_raw)):
            continue
        name = f"subsidies-{index}-"
        funder = errors.run(
            _text, funder_raw, f"{name}funder", 80, required=True,
            message=_l("Indiquez qui subventionne (ex. : État, collectivité, partenaire)."),
        )  # fmt: skip
        if funder and funder.casefold() in seen:
            errors.add(f"{name}funder", _l("Ce financeur figure déjà plus haut."))
        elif funder:
            seen.add(funder.casefold())
        if isinstance(percent_raw, str):
            percent_raw = percent_raw.replace("%", "")
        if _blank(percent_raw) == _blank(amount_raw):
            errors.add(f"{name}percent", _l("Indiquez un pourcentage ou un montant (l'un des deux)."))
            continue
        percent = errors.run(parse_int, percent_raw, f"{name}percent", maximum=100, required=False)
        amount = errors.run(parse_money, amount_raw, f"{name}amount", required=False)
        if funder and (percent is not None or amount is not None):
            subsidies.append((index, Subsidy(funder, percent, amount)))
    return subsidies


def clean_tariff(tariff: TariffInput) -> Tariff:
    """Check a tariff; ``FieldErrors`` names every wrong field (``bands-N-…``, ``subsidies-N-…``)."""
    errors = Collector()
    basis = errors.run(
        _choice, tariff.basis, Basis, "basis",
        _l("Choisissez la base : par adhérent, par bénéficiaire ou par foyer."),
    )  # fmt: skip
    periodicity = errors.run(
        _choice, tariff.periodicity, Periodicity, "periodicity",
        _l("Choisissez une périodicité : mensuelle, trimestrielle, semestrielle ou annuelle."),
    )  # fmt: skip
    amount = errors.run(parse_money, tariff.amount, "amount")
    joining_fee = errors.run(parse_money, tariff.joining_fee, "joining_fee", required=False) or 0
    waiting = errors.run(parse_int, tariff.waiting_days, "waiting_days", maximum=365, required=False) or 0
    grace = errors.run(parse_int, tariff.grace_days, "grace_days", maximum=365, required=False) or 0
    max_beneficiaries = errors.run(
        parse_int, tariff.max_beneficiaries, "max_beneficiaries", minimum=1, maximum=MAX_HOUSEHOLD,
        required=False,
    )  # fmt: skip
    child_age_limit = errors.run(
        parse_int, tariff.child_age_limit, "child_age_limit", minimum=1, maximum=MAX_AGE, required=False
    )
    bands = _clean_bands(tariff.bands, basis, errors)
    subsidies = _clean_subsidies(tariff.subsidies, errors)
    if subsidies and amount is not None:
        _check_subsidy_total(amount, bands, subsidies, errors)
    errors.raise_if_any()
    return Tariff(
        basis=basis, amount=amount, periodicity=periodicity, joining_fee=joining_fee, waiting_days=waiting,
        grace_days=grace, max_beneficiaries=max_beneficiaries, child_age_limit=child_age_limit,
        bands=tuple(bands), subsidies=tuple(s for _i, s in subsidies),
    )  # fmt: skip


def _check_subsidy_total(
    amount: int, bands: Sequence[Band], subsidies: Sequence[tuple[int, Subsidy]], errors: Collector
) -> None:
    """The funders never pay more than the contribution: checked, exactly (no rounding), for the flat
    amount and every band. ``app.contributions.pricing`` caps each share anyway; this catches the typing
    mistake before a funder is billed for it."""
    percent = sum(s.percent or 0 for _i, s in subsidies)
    fixed = sum(s.amount or 0 for _i, s in subsidies)
    for contribution in [amount, *(b.amount for b in bands)]:
        if percent * contribution + 100 * fixed > 100 * contribution:
            index, last = subsidies[-1]
            total = (percent * contribution + 50) // 100 + fixed
            errors.add(
                f"subsidies-{index}-{'percent' if last.percent is not None else 'amount'}",
                _l(
                    "Les subventions (%(subsidy)s) dépasseraient la cotisation de %(amount)s.",
                    subsidy=money(total), amount=money(contribution),
                ),
            )  # fmt: skip
            return


def describe_tariff(tariff: Tariff | ProductVersion) -> str:
    """The tariff in one plain sentence, e.g. "2 000 F CFA par bénéficiaire et par mois, carence 90 jours,
    grâce 30 jours, État : 50 %" — what an agent reads out to a member."""
    tariff = Tariff.of(tariff) if isinstance(tariff, ProductVersion) else tariff
    per = _(
        "%(basis)s et %(period)s", basis=BASIS_LABELS[tariff.basis], period=_PER_PERIOD[tariff.periodicity]
    )
    if tariff.bands:
        unit = _("ans") if tariff.bands[0].dimension is BandDimension.age else _("pers.")
        priced = "; ".join(f"{b.low}–{b.high} {unit} : {money(b.amount)}" for b in tariff.bands)
        parts = [
            _("%(bands)s (sinon %(amount)s) %(per)s", bands=priced, amount=money(tariff.amount), per=per)
        ]
    else:
        parts = [f"{money(tariff.amount)} {per}"]
    if tariff.joining_fee:
        parts.append(_("droit d'adhésion %(amount)s", amount=money(tariff.joining_fee)))
    parts.append(_("carence %(days)s jours", days=tariff.waiting_days))
    parts.append(_("grâce %(days)s jours", days=tariff.grace_days))
    for subsidy in tariff.subsidies:
        share = f"{subsidy.percent} %" if subsidy.percent is not None else money(subsidy.amount or 0)
        parts.append(f"{subsidy.funder} : {share}")
    return ", ".join(parts)


# --- scope -------------------------------------------------------------------------------------------------


def branch_path(session: Session, tenant: TenantRef) -> str:
    """The mutual's fédération path: products are the whole mutual's, managed from there (or above)."""
    record = session.get(Tenant, tenant.id)
    if record is None:
        raise NotFound(_l("Mutuelle introuvable."))
    return record.federation.path


def can_read(session: Session, tenant: TenantRef, actor: Actor) -> bool:
    """Anyone holding a read permission in the mutual's branch (an agent of one association included)."""
    if actor.is_platform_admin:
        return True
    branch = branch_path(session, tenant)
    return any(
        any(code in perms for code in READ_PERMISSIONS)
        and (path.startswith(branch) or branch.startswith(path))
        for path, perms in actor.scopes
    )


def require_read(session: Session, tenant: TenantRef, actor: Actor) -> None:
    if not (can_read(session, tenant, actor) or can_manage(session, tenant, actor)):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))


def can_manage(session: Session, tenant: TenantRef, actor: Actor) -> bool:
    return actor.can(MANAGE, branch_path(session, tenant))


def require_manage(session: Session, tenant: TenantRef, actor: Actor) -> None:
    actor.require(MANAGE, branch_path(session, tenant))


# --- products ----------------------------------------------------------------------------------------------


def list_products(session: Session, tenant: TenantRef, actor: Actor) -> list[Product]:
    require_read(session, tenant, actor)
    query = (
        select(Product)
        .options(selectinload(Product.versions).selectinload(ProductVersion.subsidies))
        .options(selectinload(Product.versions).selectinload(ProductVersion.bands))
        .order_by(Product.name)
    )
    return list(session.scalars(query))


def get_product(session: Session, tenant: TenantRef, actor: Actor, public_id: str) -> Product:
    require_read(session, tenant, actor)
    product = session.scalar(select(Product).where(Product.public_id == public_id))
    if product is None:
        raise NotFound(_l("Produit introuvable."))
    return product


def _product_fields(
    errors: Collector, *, code: object, name: object, description: object, valid_from: object,
    valid_to: object,
) -> tuple[str, str, str, dt.date | None, dt.date | None]:  # fmt: skip
    clean_code = _BLANKS.sub("", str(code or "")).upper()
    if not clean_code:
        errors.add("code", _l("Indiquez le code du produit (ex. : BASE, FAMILLE)."))
    elif not _CODE.fullmatch(clean_code):
        errors.add("code", _l("Code : lettres, chiffres, « - » ou « _ », 20 caractères au plus."))
    clean_name = errors.run(
        _text, name, "name", 120, required=True, message=_l("Indiquez le nom du produit.")
    )
    clean_description = errors.run(_text, description, "description", 2000) or ""
    start = errors.run(parse_date, valid_from, "valid_from")
    end = errors.run(parse_date, valid_to, "valid_to", required=False)
    if start and end and end < start:
        errors.add("valid_to", _l("La fin de validité doit suivre le début."))
    return clean_code, clean_name or "", clean_description, start, end


def _add_version(
    session: Session, actor: Actor, product: Product, tariff: Tariff, *, number: int, effective_from: dt.date,
    reason: str,
) -> ProductVersion:  # fmt: skip
    version = ProductVersion(
        number=number, effective_from=effective_from, basis=tariff.basis, amount=tariff.amount,
        periodicity=tariff.periodicity, joining_fee=tariff.joining_fee, waiting_days=tariff.waiting_days,
        grace_days=tariff.grace_days, max_beneficiaries=tariff.max_beneficiaries,
        child_age_limit=tariff.child_age_limit, reason=reason, created_by_label=actor.label[:200],
        bands=[TariffBand(dimension=b.dimension, low=b.low, high=b.high, amount=b.amount)
               for b in tariff.bands],
        subsidies=[VersionSubsidy(funder=s.funder, percent=s.percent, amount=s.amount)
                   for s in tariff.subsidies],
    )  # fmt: skip
    version.product = product  # appended last: it starts after every other version
    session.add(version)
    return version


def create_product(
    session: Session, tenant: TenantRef, actor: Actor, *, code: object, name: object,
    description: object = "", valid_from: object, valid_to: object = None, tariff: TariffInput,
) -> Product:  # fmt: skip
    """A product and its first tariff (version 1, from the start of its validity)."""
    require_manage(session, tenant, actor)
    errors = Collector()
    clean_code, clean_name, clean_description, start, end = _product_fields(
        errors, code=code, name=name, description=description, valid_from=valid_from, valid_to=valid_to
    )
    clean = errors.run(clean_tariff, tariff)
    if clean_code and session.scalar(select(Product.id).where(Product.code == clean_code)) is not None:
        errors.add("code", _l("Un produit porte déjà ce code."))
    errors.raise_if_any()
    assert start is not None and clean is not None
    product = Product(
        code=clean_code, name=clean_name, description=clean_description, valid_from=start, valid_to=end
    )
    session.add(product)
    _add_version(session, actor, product, clean, number=1, effective_from=start, reason=str(_l("Création")))
    session.flush()
    record_event(
        session, actor, "products.created", target_type="product", target_id=product.code,
        after={"code": product.code, "name": product.name, "valid_from": start, "valid_to": end,
               "tariff": clean.as_data()},
    )  # fmt: skip
    return product


def update_product(
    session: Session, tenant: TenantRef, actor: Actor, product: Product, *, name: object, description: object,
    valid_to: object,
) -> Product:  # fmt: skip
    """Name, description and end of validity (the code and the start stay: dues and cards refer to them)."""
    require_manage(session, tenant, actor)
    errors = Collector()
    _code, clean_name, clean_description, _start, end = _product_fields(
        errors, code=product.code, name=name, description=description, valid_from=product.valid_from,
        valid_to=valid_to,
    )  # fmt: skip
    if end is not None and product.versions and end < product.versions[-1].effective_from:
        errors.add(
            "valid_to",
            _l(
                "Un tarif commence le %(day)s : la fin de validité ne peut pas le précéder.",
                day=product.versions[-1].effective_from.strftime("%d/%m/%Y"),
            ),
        )
    errors.raise_if_any()
    before = {"name": product.name, "description": product.description, "valid_to": product.valid_to}
    after = {"name": clean_name, "description": clean_description, "valid_to": end}
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        product.name, product.description, product.valid_to = clean_name, clean_description, end
        session.flush()
        record_event(
            session, actor, "products.updated", target_type="product", target_id=product.code,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return product


def has_dues(session: Session, product: Product) -> bool:
    """Whether any due was priced with one of the product's tariffs (the past is then fixed)."""
    ids = [v.id for v in product.versions]
    return bool(ids) and session.scalar(select(Due.id).where(Due.version_id.in_(ids)).limit(1)) is not None


@dataclass(frozen=True)
class PlannedVersion:
    """A checked tariff change, not applied yet: what a step-up approval is asked for."""

    product_code: str
    effective_from: dt.date
    reason: str
    tariff: Tariff

    def as_data(self) -> dict[str, Any]:
        return {
            "product": self.product_code, "effective_from": self.effective_from.isoformat(),
            "reason": self.reason, **self.tariff.as_data(),
        }  # fmt: skip


def plan_version(
    session: Session, tenant: TenantRef, actor: Actor, product: Product, tariff: TariffInput,
    effective_from: object, reason: object,
) -> PlannedVersion:  # fmt: skip
    """Check a tariff change without applying it. The new tariff starts after the latest one; once dues
    exist it cannot start before today either: the dues already called keep their tariff."""
    require_manage(session, tenant, actor)
    errors = Collector()
    clean = errors.run(clean_tariff, tariff)
    start = errors.run(parse_date, effective_from, "effective_from")
    clean_reason = errors.run(
        _text, reason, "reason", 300, required=True, message=_l("Indiquez le motif du changement de tarif.")
    )
    latest = product.versions[-1] if product.versions else None
    today = clock.today()
    if start is not None:
        if latest is not None and start <= latest.effective_from:
            errors.add(
                "effective_from",
                _l(
                    "Le nouveau tarif doit commencer après le %(day)s (début du dernier tarif).",
                    day=latest.effective_from.strftime("%d/%m/%Y"),
                ),
            )
        elif start < today and has_dues(session, product):
            errors.add(
                "effective_from",
                _l(
                    "Des cotisations ont déjà été appelées avec ce produit : le nouveau tarif ne peut pas "
                    "commencer avant aujourd'hui (%(day)s).",
                    day=today.strftime("%d/%m/%Y"),
                ),
            )
        elif product.valid_to is not None and start > product.valid_to:
            errors.add(
                "effective_from",
                _l(
                    "Le produit n'est plus valable à cette date (fin le %(day)s).",
                    day=product.valid_to.strftime("%d/%m/%Y"),
                ),
            )
    errors.raise_if_any()
    assert clean is not None and start is not None
    if latest is not None and Tariff.of(latest) == clean:
        raise DomainError(_l("Ce tarif est identique au dernier tarif : rien à changer."))
    return PlannedVersion(product.code, start, clean_reason or "", clean)


def new_version(
    session: Session, tenant: TenantRef, actor: Actor, product: Product, tariff: TariffInput,
    effective_from: object, reason: object,
) -> ProductVersion:  # fmt: skip
    """A new tariff from ``effective_from``; the earlier versions stay as they were (a critical function:
    the view asks for a step-up approval of ``plan_version(...).as_data()`` first)."""
    require_manage(session, tenant, actor)
    # One change at a time per product: the version number and "after the latest" hold under the lock.
    session.scalar(select(Product.id).where(Product.id == product.id).with_for_update())
    session.refresh(product, attribute_names=["versions"])
    plan = plan_version(session, tenant, actor, product, tariff, effective_from, reason)
    previous = product.versions[-1] if product.versions else None
    number = max((v.number for v in product.versions), default=0) + 1
    version = _add_version(
        session, actor, product, plan.tariff, number=number, effective_from=plan.effective_from,
        reason=plan.reason,
    )  # fmt: skip
    session.flush()
    record_event(
        session, actor, "products.tariff_changed", target_type="product", target_id=product.code,
        before=({"version": previous.number, "effective_from": previous.effective_from,
                 **Tariff.of(previous).as_data()} if previous else None),
        after={"version": number, "effective_from": plan.effective_from, **plan.tariff.as_data()},
        reason=plan.reason,
    )  # fmt: skip
    return version
