"""Forms of the sign-in, account, step-up and administration screens."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

_PASSWORD_HELP = _l("Au moins 10 caractères. Une phrase facile à retenir convient très bien.")


class SignInForm(FlaskForm):
    login = StringField(
        _l("E-mail ou téléphone"),
        validators=[DataRequired(_l("Saisissez votre e-mail ou votre numéro de téléphone."))],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Mot de passe"),
        validators=[DataRequired(_l("Saisissez votre mot de passe."))],
        render_kw={"autocomplete": "current-password"},
    )


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nouveau mot de passe"),
        description=_PASSWORD_HELP,
        validators=[DataRequired(_l("Choisissez un mot de passe."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Confirmez le mot de passe"),
        validators=[DataRequired(_l("Saisissez-le une seconde fois."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Saisissez votre mot de passe actuel."))],
        render_kw={"autocomplete": "current-password"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l("Le code à 6 chiffres de votre application, ou un code de secours."),
        validators=[DataRequired(_l("Saisissez le code.")), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "off"},
    )


def _choices(pairs: object) -> list[SelectChoice]:
    return [SelectChoice(value, str(label)) for value, label in pairs]  # type: ignore[attr-defined]


class PreferencesForm(FlaskForm):
    full_name = StringField(_l("Nom complet"), validators=[DataRequired(_l("Saisissez votre nom complet."))])
    phone = StringField(_l("Téléphone"), validators=[Optional(), Length(max=30)])
    locale = SelectField(_l("Langue"), choices=_choices((("fr", "Français"), ("en", "English"))))
    density = RadioField(
        _l("Disposition de l'écran"),
        choices=_choices((("comfortable", _l("Aérée")), ("compact", _l("Compacte")))),
    )
    text_size = RadioField(
        _l("Taille du texte"),
        choices=_choices((("small", _l("Petite")), ("normal", _l("Normale")), ("large", _l("Grande")))),
    )


class InviteForm(FlaskForm):
    full_name = StringField(
        _l("Nom complet"), validators=[DataRequired(_l("Saisissez le nom complet.")), Length(max=200)]
    )
    email = EmailField(
        _l("E-mail"),
        description=_l("Ou le téléphone seulement : l'un des deux sert à se connecter."),
        validators=[Optional(), Length(max=200)],
    )
    phone = StringField(_l("Téléphone"), validators=[Optional(), Length(max=30)])
    locale = SelectField(_l("Langue"), choices=_choices((("fr", "Français"), ("en", "English"))))
    node = SelectField(_l("Nœud"), validators=[DataRequired(_l("Choisissez un nœud."))])
    profile = SelectField(_l("Profil"), validators=[DataRequired(_l("Choisissez un profil."))])


class GrantForm(FlaskForm):
    node = SelectField(_l("Nœud"), validators=[DataRequired(_l("Choisissez un nœud."))])
    profile = SelectField(_l("Profil"), validators=[DataRequired(_l("Choisissez un profil."))])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Motif"), validators=[DataRequired(_l("Indiquez le motif.")), Length(max=500)])


class PlainForm(FlaskForm):
    """A button that changes state: CSRF token only."""


class ProfileForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l("Lettres minuscules, chiffres et « _ » ; ne change plus ensuite."),
        validators=[DataRequired(_l("Le code est obligatoire.")), Length(max=40)],
    )
    name = StringField(_l("Nom"), validators=[DataRequired(_l("Le nom est obligatoire.")), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=500)])
    permissions = SelectMultipleField(
        _l("Permissions"),
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validate_choice=False,  # the service refuses unknown codes with its own message
    )


class EditProfileForm(ProfileForm):
    code = None


class SecurityFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    kind = SelectField(_l("Type"), validators=[Optional()])
    who = StringField(_l("Compte ou e-mail"), validators=[Optional(), Length(max=200)])
    ip = StringField(_l("Adresse IP"), validators=[Optional(), Length(max=64)])
    since = StringField(_l("Depuis (AAAA-MM-JJ)"), validators=[Optional(), Length(max=10)])
    until = StringField(_l("Jusqu'au (AAAA-MM-JJ)"), validators=[Optional(), Length(max=10)])


class AcknowledgeForm(FlaskForm):
    comment = TextAreaField(
        _l("Commentaire"), validators=[DataRequired(_l("Indiquez ce qui a été fait.")), Length(max=500)]
    )
