"""Forms of products, tariffs, the catalogue and coverage rules. Values stay plain strings: the services check
them and name each wrong field, so a refused form comes back with everything as typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, SelectField, StringField, TextAreaField
from wtforms.fields import FieldList, FormField
from wtforms.fields.choices import SelectChoice

from app.coverage.benefits import CATEGORY_LABELS
from app.coverage.models import BandDimension, Basis, Periodicity
from app.coverage.products import BASIS_LABELS, DIMENSION_LABELS, PERIODICITY_LABELS

BAND_ROWS = 4
SUBSIDY_ROWS = 2
_DATE_HELP = _l("JJ/MM/AAAA")
_NUMBER = {"inputmode": "numeric"}


def _select(
    label: object, options: dict[object, object], *, blank: object = None, **kwargs: object
) -> SelectField:
    """A select whose labels stay lazy: they are translated when the page is drawn, in the user's language."""
    choices = [SelectChoice("", blank)] if blank is not None else []  # type: ignore[arg-type]
    choices += [SelectChoice(str(getattr(k, "value", k)), v) for k, v in options.items()]  # type: ignore[arg-type]
    return SelectField(label, choices=choices, validate_choice=False, **kwargs)


class BandForm(Form):
    """One row of bands (a sub-form: the page's CSRF token covers it)."""

    dimension = _select(
        _l("Selon"), {d: DIMENSION_LABELS[d] for d in BandDimension}, blank=_l("selon la base")
    )
    low = StringField(_l("De"), render_kw=_NUMBER)
    high = StringField(_l("À (inclus)"), render_kw=_NUMBER)
    amount = StringField(_l("Montant (F CFA)"), render_kw=_NUMBER)


class SubsidyForm(Form):
    funder = StringField(_l("Financeur"), description=_l("ex. : État (CMU), commune, partenaire"))
    percent = StringField(_l("Part (%)"), render_kw=_NUMBER)
    amount = StringField(_l("ou montant par échéance (F CFA)"), render_kw=_NUMBER)


class TariffFields(FlaskForm):
    """The fields of a tariff, shared by the product creation and the tariff change."""

    basis = _select(_l("Cotisation"), {b: BASIS_LABELS[b] for b in Basis}, blank="—")
    amount = StringField(
        _l("Montant par période (F CFA)"),
        description=_l("Hors tranches, ou pour les âges et tailles qu'aucune tranche ne couvre."),
        render_kw=_NUMBER,
    )
    periodicity = _select(_l("Périodicité"), {p: PERIODICITY_LABELS[p] for p in Periodicity}, blank="—")
    joining_fee = StringField(_l("Droit d'adhésion (F CFA)"), default="0", render_kw=_NUMBER)
    waiting_days = StringField(
        _l("Stage (carence), en jours"),
        default="0",
        description=_l("Délai avant l'ouverture des droits."),
        render_kw=_NUMBER,
    )
    grace_days = StringField(
        _l("Délai de grâce, en jours"),
        default="0",
        description=_l("Retard de paiement toléré avant la suspension des droits."),
        render_kw=_NUMBER,
    )
    max_beneficiaries = StringField(
        _l("Bénéficiaires au plus (facultatif)"), description=_l("Adhérent compris."), render_kw=_NUMBER
    )
    child_age_limit = StringField(
        _l("Âge limite des enfants (facultatif)"),
        description=_l("Un enfant de cet âge ou plus n'est plus couvert par ce produit."),
        render_kw=_NUMBER,
    )
    bands = FieldList(FormField(BandForm), min_entries=BAND_ROWS, max_entries=12)
    subsidies = FieldList(FormField(SubsidyForm), min_entries=SUBSIDY_ROWS, max_entries=6)


class ProductForm(TariffFields):
    code = StringField(_l("Code"), description=_l("Court et sans espace (ex. : BASE, FAMILLE)."))
    name = StringField(_l("Nom"))
    description = TextAreaField(_l("Description (facultatif)"))
    valid_from = StringField(_l("Valable à partir du"), description=_DATE_HELP)
    valid_to = StringField(_l("Jusqu'au (facultatif)"), description=_DATE_HELP)


class ProductDetailsForm(FlaskForm):
    name = StringField(_l("Nom"))
    description = TextAreaField(_l("Description"))
    valid_to = StringField(_l("Valable jusqu'au (facultatif)"), description=_DATE_HELP)


class VersionForm(TariffFields):
    effective_from = StringField(_l("Nouveau tarif à partir du"), description=_DATE_HELP)
    reason = TextAreaField(_l("Motif du changement"))


class CoverageForm(FlaskForm):
    rate_percent = StringField(
        _l("Taux de prise en charge (%)"),
        default="80",
        description=_l("L'adhérent paie le reste (ticket modérateur)."),
        render_kw=_NUMBER,
    )
    reference_price = StringField(
        _l("Tarif de référence (F CFA)"),
        description=_l("Vide : celui du catalogue."),
        render_kw=_NUMBER,
    )
    ceiling_per_act = StringField(_l("Plafond par acte (F CFA)"), render_kw=_NUMBER)
    ceiling_per_beneficiary_year = StringField(
        _l("Plafond par bénéficiaire et par an (F CFA)"), render_kw=_NUMBER
    )
    ceiling_per_household_year = StringField(_l("Plafond par foyer et par an (F CFA)"), render_kw=_NUMBER)
    frequency_count = StringField(_l("Nombre d'actes permis"), description=_l("ex. : 1 paire de lunettes…"))
    frequency_months = StringField(_l("… tous les (mois)"), description=_l("… tous les 24 mois"))
    min_age = StringField(_l("Âge minimum"), render_kw=_NUMBER)
    max_age = StringField(_l("Âge maximum"), render_kw=_NUMBER)
    sex = SelectField(
        _l("Réservé aux"),
        choices=[
            SelectChoice("", _l("femmes et hommes")),  # type: ignore[arg-type]
            SelectChoice("F", _l("femmes")),  # type: ignore[arg-type]
            SelectChoice("M", _l("hommes")),  # type: ignore[arg-type]
        ],
        validate_choice=False,
    )
    prior_approval = BooleanField(_l("Accord préalable du médecin-conseil nécessaire"))


class ExcludeForm(FlaskForm):
    """A button with its CSRF token."""


class BenefitForm(FlaskForm):
    code = StringField(_l("Code"), description=_l("ex. : CONS-GEN, ECHO-OBST"))
    name = StringField(_l("Libellé"), description=_l("Vide pour un médicament : DCI, dosage et forme."))
    category = _select(_l("Catégorie"), dict(CATEGORY_LABELS), blank="—")
    inn = StringField(_l("DCI (médicaments)"))
    form = StringField(_l("Forme (médicaments)"), description=_l("comprimé, sirop, injectable…"))
    strength = StringField(_l("Dosage (médicaments)"), description=_l("ex. : 500 mg"))
    reference_price = StringField(_l("Tarif de référence (F CFA, facultatif)"), render_kw=_NUMBER)
    active = BooleanField(_l("Au catalogue (décocher pour retirer la prestation)"), default=True)


class CatalogueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Code, libellé ou DCI"))
    category = _select(_l("Catégorie"), dict(CATEGORY_LABELS), blank=_l("Toutes"))


class ImportForm(FlaskForm):
    file = FileField(
        _l("Liste de médicaments essentiels (CSV)"),
        description=_l("Colonnes : Code (facultatif), DCI, Forme, Dosage, Prix ; séparateur « ; » ou « , »."),
    )
