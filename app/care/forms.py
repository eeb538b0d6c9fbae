"""Forms of the provider side (providers, conventions, the counter, guarantee letters). Values stay plain
strings: the services check them and name each wrong field, so a refused form keeps everything typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.care.conventions import PRICING_LABELS
from app.care.providers import KIND_LABELS, PAYOUT_LABELS, REGIONS, STATUS_LABELS

_NUMBER = {"inputmode": "numeric"}
_DATE = {"type": "date"}


def _select(
    label: object, options: dict[object, object], *, blank: object = None, **kwargs: object
) -> SelectField:
    choices = [SelectChoice("", blank)] if blank is not None else []  # type: ignore[arg-type]
    choices += [SelectChoice(str(getattr(k, "value", k)), v) for k, v in options.items()]  # type: ignore[arg-type]
    return SelectField(label, choices=choices, validate_choice=False, **kwargs)


class ProviderForm(FlaskForm):
    code = StringField(_l("Code"), description=_l("ex. : HOP-PIKINE, PH-THIES-01"))
    name = StringField(_l("Nom"))
    kind = _select(_l("Type"), dict(KIND_LABELS), blank="—")
    region = _select(_l("Région"), {r: r for r in REGIONS}, blank="—")
    commune = StringField(_l("Commune"))
    address = StringField(_l("Adresse"))
    phone = StringField(_l("Téléphone"), render_kw={"type": "tel", "autocomplete": "off"})
    email = StringField(_l("E-mail"), render_kw={"type": "email"})
    status = _select(_l("Statut"), dict(STATUS_LABELS))
    payout_method = _select(_l("Mode de paiement"), dict(PAYOUT_LABELS))
    payout_account = StringField(
        _l("Compte de paiement"), description=_l("IBAN / RIB ou numéro mobile money")
    )


class ProviderFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Nom, code ou commune"))
    kind = _select(_l("Type"), dict(KIND_LABELS), blank=_l("Tous"))
    region = _select(_l("Région"), {r: r for r in REGIONS}, blank=_l("Toutes"))


class ConventionForm(FlaskForm):
    reference = StringField(_l("Référence"), description=_l("ex. : CONV-2026-014"))
    starts_on = StringField(_l("Début"), render_kw=_DATE)
    ends_on = StringField(_l("Fin (facultatif)"), render_kw=_DATE)
    pricing = _select(_l("Tarification"), dict(PRICING_LABELS))
    reference_rate_pct = StringField(
        _l("Taux de la grille de référence (%)"), default="100", render_kw=_NUMBER,
        description=_l("100 = le tarif de référence du catalogue."),
    )  # fmt: skip
    payment_delay_days = StringField(_l("Délai de paiement (jours)"), default="30", render_kw=_NUMBER)
    document = FileField(_l("Convention signée (PDF, facultatif)"), render_kw={"accept": "application/pdf"})


class VersionForm(FlaskForm):
    starts_on = StringField(_l("La nouvelle version s'applique à partir du"), render_kw=_DATE)
    reference_rate_pct = StringField(_l("Taux de la grille de référence (%)"), render_kw=_NUMBER)
    payment_delay_days = StringField(_l("Délai de paiement (jours)"), render_kw=_NUMBER)


class PriceForm(FlaskForm):
    benefit = StringField(_l("Code de l'acte ou du médicament"))
    price = StringField(_l("Prix convenu (F CFA)"), render_kw=_NUMBER)


class PriceListForm(FlaskForm):
    file = FileField(
        _l("Liste de prix (CSV ou XLSX)"),
        description=_l("Colonnes « code » et « prix » sur la première ligne ; séparateur « ; » ou « , »."),
        render_kw={"accept": ".csv,.xlsx"},
    )


class DocumentForm(FlaskForm):
    document = FileField(_l("Convention signée (PDF)"), render_kw={"accept": "application/pdf"})


class StaffForm(FlaskForm):
    full_name = StringField(_l("Nom complet"))
    email = StringField(_l("E-mail"), render_kw={"type": "email"})
    phone = StringField(_l("Téléphone"), render_kw={"type": "tel"})


class CounterForm(FlaskForm):
    class Meta:
        csrf = False  # a check reads; it is audited but changes nothing the user owns

    query = StringField(
        _l("Carte ou numéro de membre"),
        description=_l("Scannez le QR de la carte (l'application colle l'adresse) ou tapez le numéro."),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "inputmode": "text"},
    )
    provider = SelectField(_l("Prestataire"), choices=[], validate_choice=False)


class LetterForm(FlaskForm):
    member = StringField(_l("Numéro du bénéficiaire"))
    provider = SelectField(_l("Prestataire"), choices=[], validate_choice=False)
    valid_until = StringField(_l("Valable jusqu'au"), render_kw=_DATE)
    items = TextAreaField(
        _l("Actes"),
        description=_l("Une ligne par acte : code, quantité, prix estimé (facultatif : le prix convenu)."),
        render_kw={"rows": 4, "placeholder": "CONS-GEN, 1\nECHO-OBST, 1, 15000"},
    )


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note du médecin-conseil"), render_kw={"rows": 3})


class CancelForm(FlaskForm):
    note = TextAreaField(_l("Motif de l'annulation"), render_kw={"rows": 2})
