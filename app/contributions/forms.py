"""Forms of the contribution screens. Values are plain strings: the payment services check them and say
which field is wrong, so a refused form comes back with everything as typed."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

_AMOUNT = {"inputmode": "numeric", "autocomplete": "off"}


class SubscribeForm(FlaskForm):
    """Subscribe the household to a product at the counter."""

    product = SelectField(_l("Produit"), validate_choice=False)
    start_date = StringField(_l("À partir du"), description=_l("JJ/MM/AAAA"), validators=[Length(max=10)])


class PaymentForm(FlaskForm):
    """Cash received at the association's counter."""

    amount = StringField(_l("Montant reçu (F CFA)"), validators=[Length(max=20)], render_kw=_AMOUNT)
    received_on = StringField(
        _l("Date de réception"), description=_l("JJ/MM/AAAA"), validators=[Length(max=10)]
    )
    receipt_number = StringField(
        _l("N° du reçu papier (facultatif)"),
        description=_l("Laissez vide : Mbolo numérote le reçu."),
        validators=[Optional(), Length(max=30)],
        render_kw={"autocomplete": "off"},
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Motif de l'annulation"),
        description=_l("Il reste sur le paiement et dans le journal."),
        validators=[Length(max=300)],
    )


class CorrectForm(FlaskForm):
    new_amount = StringField(
        _l("Montant réellement reçu (F CFA)"), validators=[Length(max=20)], render_kw=_AMOUNT
    )
    reason = TextAreaField(
        _l("Motif de la correction"),
        description=_l("Il reste sur le paiement et dans le journal."),
        validators=[Length(max=300)],
    )


class DayForm(FlaskForm):
    """The day of the cash count (GET: no CSRF token)."""

    class Meta:
        csrf = False

    jour = StringField(_l("Jour"), description=_l("JJ/MM/AAAA"), validators=[Optional(), Length(max=10)])
