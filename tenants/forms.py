from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class TenantForm(FlaskForm):
    slug = StringField(
        _l("Identifiant"),
        validators=[DataRequired(_l("L'identifiant est obligatoire."))],
        description=_l("Minuscules, chiffres et _ ; 2 à 30 caractères. Ex. : transport"),
    )
    name = StringField(
        _l("Nom de la mutuelle"), validators=[DataRequired(_l("Le nom est obligatoire.")), Length(max=200)]
    )
    sector = SelectField(_l("Secteur"))
    federation = SelectField(_l("Fédération"), validators=[DataRequired(_l("Choisissez une fédération."))])


class TenantStatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("Motif"), validators=[DataRequired(_l("Indiquez le motif."))])


class MessageForm(FlaskForm):
    channel = SelectField(_l("Canal"), choices=[SelectChoice("sms", "SMS"), SelectChoice("email", "E-mail")])
    recipient = StringField(_l("Destinataire"), validators=[DataRequired(_l("Indiquez le destinataire."))])
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(_l("Le message est vide.")), Length(max=640)]
    )
