"""Enrolment steps and member-page forms. Values are plain strings: the services check them and say which
field is wrong, so a refused form comes back with everything as typed."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.members.rules import REGIONS

_SEX = [SelectChoice("F", str(_l("Femme"))), SelectChoice("M", str(_l("Homme")))]
_BIRTH_HELP = _l("JJ/MM/AAAA, ou l'année seule : « vers 1980 ».")


def _sex_field() -> RadioField:
    return RadioField(_l("Sexe"), choices=list(_SEX), validate_choice=False)


class IdentityForm(FlaskForm):
    association = SelectField(_l("Association d'inscription"), validate_choice=False)
    last_name = StringField(_l("Nom"), validators=[Length(max=80)])
    first_names = StringField(_l("Prénom(s)"), validators=[Length(max=120)])
    sex = _sex_field()
    birth = StringField(_l("Date de naissance"), description=_BIRTH_HELP, validators=[Length(max=20)])
    birth_place = StringField(_l("Lieu de naissance"), validators=[Optional(), Length(max=120)])
    national_id = StringField(
        _l("N° d'identification national (facultatif)"),
        validators=[Optional(), Length(max=20)],
        render_kw={"inputmode": "numeric"},
    )


class ContactForm(FlaskForm):
    phone = StringField(
        _l("Téléphone"),
        validators=[Optional(), Length(max=30)],
        render_kw={"inputmode": "tel", "type": "tel"},
    )
    phone_alt = StringField(
        _l("Autre téléphone"),
        validators=[Optional(), Length(max=30)],
        render_kw={"inputmode": "tel", "type": "tel"},
    )
    address = StringField(_l("Adresse"), validators=[Optional(), Length(max=200)])
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=80)])
    region = SelectField(
        _l("Région"),
        choices=[SelectChoice("", "—")] + [SelectChoice(r, r) for r in REGIONS],
        validate_choice=False,
    )
    trade = SelectField(_l("Métier"), validate_choice=False)


class DependantForm(FlaskForm):
    relationship = SelectField(
        _l("Lien avec l'adhérent"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice("spouse", str(_l("Conjoint(e)"))),
            SelectChoice("child", str(_l("Enfant"))),
            SelectChoice("other", str(_l("Autre"))),
        ],
        validate_choice=False,
    )
    last_name = StringField(_l("Nom"), validators=[Length(max=80)])
    first_names = StringField(_l("Prénom(s)"), validators=[Length(max=120)])
    sex = _sex_field()
    birth = StringField(_l("Date de naissance"), description=_BIRTH_HELP, validators=[Length(max=20)])


class ConsentForm(FlaskForm):
    consent = BooleanField(
        _l("L'adhérent accepte le traitement de ses données personnelles et de santé (texte lu et signé)")
    )
    given_on = StringField(
        _l("Date du consentement"), description=_l("JJ/MM/AAAA"), validators=[Length(max=10)]
    )


class ConfirmForm(FlaskForm):
    not_duplicate = BooleanField(_l("J'ai vérifié : c'est une autre personne"))


class StatusForm(FlaskForm):
    status = SelectField(_l("Nouveau statut"), validate_choice=False)
    reason = TextAreaField(_l("Motif"), validators=[Length(max=500)])
    effective_on = StringField(_l("Date d'effet"), description=_l("JJ/MM/AAAA (aujourd'hui si vide)"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Motif"), validators=[Length(max=500)])


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Numéro, téléphone ou nom"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Statut"), validate_choice=False)
    association = SelectField(_l("Association"), validate_choice=False)


class RulesForm(FlaskForm):
    child_age_limit = StringField(
        _l("Âge limite des enfants ayants droit"),
        description=_l("Un enfant de cet âge ou plus ne peut plus être ayant droit."),
    )
    max_household_size = StringField(_l("Taille maximale du foyer (adhérent compris)"))
    card_validity_months = StringField(_l("Validité des cartes (mois)"))
    consent_version = StringField(_l("Version du texte de consentement en vigueur"))
