"""Forms of the claims screens (French labels; one line per act: ``code, quantité, prix unitaire``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.fields.choices import SelectChoice, SelectField

_DATE = {"type": "date"}
_NUMBER = {"inputmode": "numeric"}


class InvoiceForm(FlaskForm):
    provider = SelectField(_l("Prestataire"), choices=[])
    period_start = StringField(_l("Début de période"), render_kw=_DATE)
    period_end = StringField(_l("Fin de période"), render_kw=_DATE)


class RecordForm(FlaskForm):
    member_number = StringField(_l("Numéro du bénéficiaire"), render_kw={"autocomplete": "off"})
    care_date = StringField(_l("Date des soins"), render_kw=_DATE)
    prescriber = StringField(_l("Prescripteur"))
    diagnosis = StringField(_l("Diagnostic (facultatif)"))
    letter_number = StringField(_l("Lettre de garantie (facultatif)"), description=_l("ex. : LG-2026-000123"))
    lines = TextAreaField(
        _l("Actes et médicaments"),
        description=_l("Une ligne par acte : code, quantité, prix unitaire demandé (ex. : CONS, 1, 3000)."),
        render_kw={"rows": 5},
    )


class ActionForm(FlaskForm):
    """A bare POST (submit, validate, create a batch, mark paid): CSRF only."""


class ReviewForm(FlaskForm):
    decision = SelectField(
        _l("Décision"),
        choices=[
            SelectChoice("confirm", _l("Confirmer le résultat du contrôle")),
            SelectChoice("override", _l("Modifier le montant pris en charge")),
        ],
    )
    amount = StringField(_l("Montant pris en charge (F CFA)"), render_kw=_NUMBER)
    note = StringField(_l("Note"))


class UploadForm(FlaskForm):
    file = FileField(_l("Fichier CSV ou XLSX"))
