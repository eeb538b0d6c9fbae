"""Products of a mutual (``/<tenant>/produits``): the list with each current tariff in plain words, the
product page (tariff history, coverage), tariff changes and coverage rules (critical: step-up approval), and
the benefits catalogue with its essential-medicines import."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app import clock
from app.coverage import benefits, products
from app.coverage.forms import (
    BenefitForm,
    CatalogueFilterForm,
    CoverageForm,
    ExcludeForm,
    ImportForm,
    ProductDetailsForm,
    ProductForm,
    VersionForm,
)
from app.coverage.models import Benefit, Product
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.formatting import money
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("coverage", __name__, template_folder="templates")
install_resolution(bp)

F = TypeVar("F", bound=Callable[..., Any])
_ROW_FIELD = re.compile(r"^(bands|subsidies)-(\d+)-(\w+)$")


def requires_reader(view: F) -> F:
    """Like ``@requires``, for pages that any of ``products.READ_PERMISSIONS`` opens: agents explain products
    to members (members.read), accountants price dues (contributions.read). The services check the scope."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            from app.extensions import login_manager

            return login_manager.unauthorized()
        actor = current_actor()
        if not any(actor.can(code) for code in (*products.READ_PERMISSIONS, products.MANAGE)):
            abort(403)
        return view(*args, **kwargs)

    guarded.permission = products.READ_PERMISSIONS[0]  # type: ignore[attr-defined]
    guarded.permissions_any = products.READ_PERMISSIONS  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "money": money,
        "describe_tariff": products.describe_tariff,
        "describe_coverage": benefits.describe_coverage,
        "category_labels": benefits.CATEGORY_LABELS,
        "periodicity_labels": products.PERIODICITY_LABELS,
        "basis_labels": products.BASIS_LABELS,
    }


def _show(form: Any, error: DomainError) -> None:
    """Every message next to its field, band and subsidy rows included; a banner says where to look."""
    if isinstance(error, Forbidden | NotFound):
        raise error
    if not isinstance(error, FieldError):
        show_error(form, error)
        return
    g.mbolo_rollback = True
    messages = error.errors if isinstance(error, products.FieldErrors) else {error.field: error.message}
    placed = 0
    for name, message in messages.items():
        row = _ROW_FIELD.fullmatch(name)
        target = getattr(form, name, None)
        if row is not None:
            entries = getattr(form, row[1]).entries
            index = int(row[2])
            target = getattr(entries[index].form, row[3], None) if index < len(entries) else None
        if target is None:
            form.form_errors.append(message)
        else:
            target.errors = [*target.errors, message]
            placed += 1
    if placed:
        form.form_errors.append(_l("Corrigez les champs signalés en rouge."))


def _authorize(operation: stepup.Operation) -> None:
    stepup.authorize(db.session, current_actor(), operation)


def _tariff_input(form: Any) -> products.TariffInput:
    bands = [
        products.BandInput(row.dimension.data, row.low.data, row.high.data, row.amount.data)
        for row in (entry.form for entry in form.bands.entries)
    ]
    subsidies = [
        products.SubsidyInput(row.funder.data, row.percent.data, row.amount.data)
        for row in (entry.form for entry in form.subsidies.entries)
    ]
    return products.TariffInput(
        basis=form.basis.data, amount=form.amount.data, periodicity=form.periodicity.data,
        joining_fee=form.joining_fee.data, waiting_days=form.waiting_days.data,
        grace_days=form.grace_days.data, max_beneficiaries=form.max_beneficiaries.data,
        child_age_limit=form.child_age_limit.data, bands=bands, subsidies=subsidies,
    )  # fmt: skip


def _product(public_id: str) -> Product:
    return products.get_product(db.session, current_tenant(), current_actor(), public_id)


def _benefit(code: str) -> Benefit:
    return benefits.get_benefit(db.session, current_tenant(), current_actor(), code)


def _can_manage() -> bool:
    return products.can_manage(db.session, current_tenant(), current_actor())


# --- products ----------------------------------------------------------------------------------------------


@bp.get("/")
@requires_reader
def index() -> str:
    """Every product with its tariff of today (and the next one when a change is scheduled)."""
    today = clock.today()
    return render_template(
        "coverage/product_list.html",
        products=products.list_products(db.session, current_tenant(), current_actor()),
        today=today,
        can_manage=_can_manage(),
        title=_l("Produits"),
    )


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("products.manage")
def create() -> str | Response | tuple[str, int]:
    form = ProductForm(data={"valid_from": clock.today().strftime("%d/%m/%Y")})
    if request.method == "POST":
        try:
            product = products.create_product(
                db.session, current_tenant(), current_actor(), code=form.code.data, name=form.name.data,
                description=form.description.data, valid_from=form.valid_from.data,
                valid_to=form.valid_to.data, tariff=_tariff_input(form),
            )  # fmt: skip
            flash(_l("Produit %(code)s créé.", code=product.code), "info")
            return redirect(url_for("coverage.detail", public_id=product.public_id))
        except DomainError as error:
            _show(form, error)
            return render_template("coverage/product_form.html", form=form, title=_l("Nouveau produit")), 422
    return render_template("coverage/product_form.html", form=form, title=_l("Nouveau produit"))


@bp.get("/<public_id>")
@requires_reader
def detail(public_id: str) -> str:
    return _detail_page(_product(public_id))


def _detail_page(product: Product, details_form: ProductDetailsForm | None = None) -> str:
    today = clock.today()
    if details_form is None:
        details_form = ProductDetailsForm(
            data={"name": product.name, "description": product.description,
                  "valid_to": product.valid_to.strftime("%d/%m/%Y") if product.valid_to else ""}
        )  # fmt: skip
    return render_template(
        "coverage/product_detail.html",
        product=product,
        current=product.version_on(today),
        today=today,
        coverage=benefits.coverage_of(db.session, current_tenant(), current_actor(), product),
        details_form=details_form,
        can_manage=_can_manage(),
        title=product.name,
    )


@bp.post("/<public_id>/modifier")
@requires("products.manage")
def update(public_id: str) -> str | Response | tuple[str, int]:
    product = _product(public_id)
    form = ProductDetailsForm()
    try:
        products.update_product(
            db.session, current_tenant(), current_actor(), product, name=form.name.data,
            description=form.description.data, valid_to=form.valid_to.data,
        )  # fmt: skip
        flash(_l("Produit enregistré."), "info")
        return redirect(url_for("coverage.detail", public_id=public_id))
    except DomainError as error:
        _show(form, error)
        return _detail_page(product, form), 422


@bp.route("/<public_id>/tarif", methods=["GET", "POST"])
@requires("products.manage")
def new_tariff(public_id: str) -> str | Response | tuple[str, int]:
    """A new tariff from a date (critical: checked first, then confirmed with a second factor)."""
    product, actor = _product(public_id), current_actor()
    latest = product.versions[-1]
    form = VersionForm(data=_version_defaults(latest)) if request.method == "GET" else VersionForm()
    if request.method == "POST":
        try:
            tariff = _tariff_input(form)
            plan = products.plan_version(
                db.session,
                current_tenant(),
                actor,
                product,
                tariff,
                form.effective_from.data,
                form.reason.data,
            )
            _authorize(_tariff_operation(product, plan))
            version = products.new_version(
                db.session,
                current_tenant(),
                actor,
                product,
                tariff,
                form.effective_from.data,
                form.reason.data,
            )
            flash(
                _l("Nouveau tarif enregistré (version %(n)s, à partir du %(day)s).", n=version.number,
                   day=version.effective_from.strftime("%d/%m/%Y")),
                "info",
            )  # fmt: skip
            return redirect(url_for("coverage.detail", public_id=public_id))
        except DomainError as error:
            _show(form, error)
            return _version_page(product, form), 422
    return _version_page(product, form)


def _version_defaults(latest: Any) -> dict[str, Any]:
    """The form starts from the latest tariff: a change is usually one or two fields."""
    tariff = products.Tariff.of(latest)
    blank = lambda value: "" if value is None else str(value)  # noqa: E731
    return {
        "basis": tariff.basis.value, "amount": str(tariff.amount), "periodicity": tariff.periodicity.value,
        "joining_fee": str(tariff.joining_fee), "waiting_days": str(tariff.waiting_days),
        "grace_days": str(tariff.grace_days), "max_beneficiaries": blank(tariff.max_beneficiaries),
        "child_age_limit": blank(tariff.child_age_limit),
        "bands": [{"dimension": b.dimension.value, "low": str(b.low), "high": str(b.high),
                   "amount": str(b.amount)} for b in tariff.bands],
        "subsidies": [{"funder": s.funder, "percent": blank(s.percent), "amount": blank(s.amount)}
                      for s in tariff.subsidies],
    }  # fmt: skip


def _tariff_operation(product: Product, plan: products.PlannedVersion) -> stepup.Operation:
    tariff = plan.tariff
    summary: list[tuple[object, object]] = [
        (_l("Produit"), f"{product.name} ({product.code})"),
        (_l("À partir du"), plan.effective_from.strftime("%d/%m/%Y")),
        (_l("Tarif actuel"), products.describe_tariff(product.versions[-1])),
        (_l("Nouveau tarif"), products.describe_tariff(tariff)),
    ]
    if tariff.max_beneficiaries is not None:
        summary.append((_l("Bénéficiaires au plus"), tariff.max_beneficiaries))
    if tariff.child_age_limit is not None:
        summary.append((_l("Âge limite des enfants"), tariff.child_age_limit))
    summary.append((_l("Motif"), plan.reason))
    return stepup.Operation("products.tariff", data=plan.as_data(), summary=tuple(summary))


def _version_page(product: Product, form: VersionForm) -> str:
    return render_template(
        "coverage/product_version.html",
        product=product,
        form=form,
        current=product.version_on(clock.today()),
        title=_l("Changer le tarif"),
    )


# --- coverage of one benefit in one product ----------------------------------------------------------------


@bp.get("/<public_id>/couverture")
@requires("products.manage")
def pick_benefit(public_id: str) -> Response:
    """From the product page's "code" box to the editor of that benefit."""
    code = (request.args.get("prestation") or "").strip().upper()
    if not code:
        return redirect(url_for("coverage.catalogue", produit=public_id))
    return redirect(url_for("coverage.coverage_rules", public_id=public_id, code=code))


@bp.route("/<public_id>/couverture/<code>", methods=["GET", "POST"])
@requires("products.manage")
def coverage_rules(public_id: str, code: str) -> str | Response | tuple[str, int]:
    """Cover a benefit in a product, with its rules (critical: what the mutual pays changes)."""
    product, benefit, actor = _product(public_id), _benefit(code), current_actor()
    row = benefits.product_benefit(db.session, product, benefit)
    form = CoverageForm(data=_rules_defaults(row)) if request.method == "GET" else CoverageForm()
    if request.method == "POST":
        try:
            typed = {name: getattr(form, name).data for name in benefits.CoverageRules.__dataclass_fields__}
            rules = benefits.clean_coverage(**typed)
            _authorize(_coverage_operation(product, benefit, row, rules))
            benefits.set_product_benefit(db.session, current_tenant(), actor, product, benefit, **typed)
            flash(_l("Couverture de « %(name)s » enregistrée.", name=benefit.name), "info")
            return redirect(url_for("coverage.detail", public_id=public_id))
        except DomainError as error:
            _show(form, error)
            return _coverage_page(product, benefit, row, form), 422
    return _coverage_page(product, benefit, row, form)


@bp.post("/<public_id>/couverture/<code>/exclure")
@requires("products.manage")
def exclude(public_id: str, code: str) -> str | Response | tuple[str, int]:
    product, benefit, actor = _product(public_id), _benefit(code), current_actor()
    row = benefits.product_benefit(db.session, product, benefit)
    _authorize(_coverage_operation(product, benefit, row, None))
    benefits.exclude_benefit(db.session, current_tenant(), actor, product, benefit)
    flash(_l("« %(name)s » est exclue de ce produit.", name=benefit.name), "info")
    return redirect(url_for("coverage.detail", public_id=public_id))


def _rules_defaults(row: Any) -> dict[str, Any]:
    if row is None:
        return {"rate_percent": "80"}
    values = {name: getattr(row, name) for name in benefits.CoverageRules.__dataclass_fields__}
    return {k: (v if isinstance(v, bool) else "" if v is None else str(v)) for k, v in values.items()}


def _coverage_operation(
    product: Product, benefit: Benefit, row: Any, rules: benefits.CoverageRules | None
) -> stepup.Operation:
    data = {"product": product.code, "benefit": benefit.code, "covered": rules is not None}
    if rules is not None:
        data |= rules.as_data()
    return stepup.Operation(
        "products.coverage",
        data=data,
        summary=(
            (_l("Produit"), f"{product.name} ({product.code})"),
            (_l("Prestation"), f"{benefit.name} ({benefit.code})"),
            (_l("Règle actuelle"), benefits.describe_coverage(row)),
            (_l("Nouvelle règle"), _describe_rules(rules)),
        ),
    )


def _describe_rules(rules: benefits.CoverageRules | None) -> str:
    if rules is None:
        return benefits.describe_coverage(_Excluded())
    return benefits.describe_coverage(_Rules(covered=True, **rules.as_data()))


class _Rules:
    """The shape ``describe_coverage`` reads, for rules not saved yet."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class _Excluded(_Rules):
    def __init__(self) -> None:
        super().__init__(covered=False)


def _coverage_page(product: Product, benefit: Benefit, row: Any, form: CoverageForm) -> str:
    return render_template(
        "coverage/product_coverage.html",
        product=product,
        benefit=benefit,
        row=row,
        form=form,
        exclude_form=ExcludeForm(),
        title=benefit.name,
    )


# --- the catalogue -----------------------------------------------------------------------------------------


@bp.get("/catalogue")
@requires_reader
def catalogue() -> str:
    """The catalogue by category; with ``?produit=`` each line links to that product's rule for it."""
    return _catalogue_page(ImportForm())


def _catalogue_page(import_form: ImportForm) -> str:
    tenant, actor = current_tenant(), current_actor()
    filters = CatalogueFilterForm(request.args)
    product_id = request.args.get("produit") or ""
    product = products.get_product(db.session, tenant, actor, product_id) if product_id else None
    page = benefits.list_benefits(
        db.session, tenant, actor, category=filters.category.data or None, q=filters.q.data or "",
        page=request.args.get("page", 1, type=int),
    )  # fmt: skip
    rules = {}
    if product is not None:
        rules = {r.benefit_id: r for r in benefits.coverage_of(db.session, tenant, actor, product)}
    return render_template(
        "coverage/benefit_list.html",
        page=page,
        filters=filters,
        product=product,
        rules=rules,
        import_form=import_form,
        can_manage=_can_manage(),
        title=_l("Catalogue des prestations"),
    )


@bp.route("/catalogue/nouveau", methods=["GET", "POST"])
@requires("products.manage")
def create_benefit() -> str | Response | tuple[str, int]:
    form = BenefitForm()
    if request.method == "POST":
        try:
            benefit = benefits.create_benefit(
                db.session, current_tenant(), current_actor(), _benefit_input(form)
            )
            flash(_l("Prestation %(code)s ajoutée.", code=benefit.code), "info")
            return redirect(url_for("coverage.catalogue", category=benefit.category.value))
        except DomainError as error:
            _show(form, error)
            page = render_template(
                "coverage/benefit_form.html", form=form, benefit=None, title=_l("Nouvelle prestation")
            )
            return page, 422
    return render_template(
        "coverage/benefit_form.html", form=form, benefit=None, title=_l("Nouvelle prestation")
    )


def _benefit_input(form: BenefitForm) -> benefits.BenefitInput:
    return benefits.BenefitInput(
        code=form.code.data, name=form.name.data, category=form.category.data, inn=form.inn.data,
        form=form.form.data, strength=form.strength.data, reference_price=form.reference_price.data,
    )  # fmt: skip


@bp.route("/catalogue/<code>", methods=["GET", "POST"])
@requires("products.manage")
def edit_benefit(code: str) -> str | Response | tuple[str, int]:
    benefit = _benefit(code)
    if request.method == "GET":
        form = BenefitForm(
            data={"code": benefit.code, "name": benefit.name, "category": benefit.category.value,
                  "inn": benefit.inn or "", "form": benefit.form or "", "strength": benefit.strength or "",
                  "reference_price": "" if benefit.reference_price is None else str(benefit.reference_price),
                  "active": benefit.active}
        )  # fmt: skip
        return render_template("coverage/benefit_form.html", form=form, benefit=benefit, title=benefit.name)
    form = BenefitForm()
    try:
        benefits.update_benefit(
            db.session, current_tenant(), current_actor(), benefit, _benefit_input(form),
            active=bool(form.active.data),
        )  # fmt: skip
        flash(_l("Prestation %(code)s enregistrée.", code=benefit.code), "info")
        return redirect(url_for("coverage.catalogue", category=benefit.category.value))
    except DomainError as error:
        _show(form, error)
        return render_template(
            "coverage/benefit_form.html", form=form, benefit=benefit, title=benefit.name
        ), 422


@bp.post("/catalogue/import")
@requires("products.manage")
def import_medicines() -> str | tuple[str, int]:
    """Load a list of essential medicines; the report lists every refused line with its reason."""
    form = ImportForm()
    upload = form.file.data
    try:
        if upload is None or not getattr(upload, "filename", ""):
            raise FieldError("file", _l("Choisissez le fichier CSV de la liste."))
        report = benefits.import_medicines_csv(
            db.session, current_tenant(), current_actor(), upload.stream, filename=upload.filename
        )
    except DomainError as error:
        _show(form, error)
        return _catalogue_page(form), 422
    return render_template(
        "coverage/benefit_import.html",
        report=report,
        filename=upload.filename,
        title=_l("Import des médicaments"),
    )
