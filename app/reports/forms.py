from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange


class ReportForm(FlaskForm):
    year = IntegerField(
        _l("Année"),
        validators=[
            InputRequired(_l("Indiquez l'année.")),
            NumberRange(2000, 2100, message=_l("Année invalide.")),
        ],
    )
    quarter = SelectField(_l("Trimestre"), choices=[SelectChoice(str(q), f"T{q}") for q in (1, 2, 3, 4)])
