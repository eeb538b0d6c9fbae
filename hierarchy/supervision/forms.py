"""Forms of the supervision pages (WTForms choices as ``SelectChoice``)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from hierarchy.supervision.alerts import APPLIES_TO, KINDS


class RuleForm(FlaskForm):
    kind = SelectField(_l("Alerte"), choices=[SelectChoice(k, v) for k, v in KINDS.items()])
    threshold = DecimalField(
        _l("Seuil"),
        places=2,
        validators=[
            InputRequired(_l("Indiquez un seuil.")),
            NumberRange(min=0, message=_l("Le seuil doit être positif.")),
        ],
    )
    applies_to = SelectField(_l("S'applique à"), choices=[SelectChoice(k, v) for k, v in APPLIES_TO.items()])


class AcknowledgeForm(FlaskForm):
    comment = TextAreaField(
        _l("Commentaire"), validators=[DataRequired(_l("Indiquez ce qui est fait.")), Length(max=1000)]
    )


class TargetForm(FlaskForm):
    year = IntegerField(
        _l("Année"),
        validators=[
            InputRequired(_l("Indiquez l'année.")),
            NumberRange(2000, 2100, message=_l("Année invalide.")),
        ],
    )
    population = IntegerField(
        _l("Population cible"),
        validators=[
            InputRequired(_l("Indiquez la population.")),
            NumberRange(min=1, message=_l("Indiquez une population d'au moins 1.")),
        ],
    )
