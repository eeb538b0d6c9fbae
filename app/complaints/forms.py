"""Forms of the complaint screens (back office and portal). Values are plain strings: the services check
them and say which field is wrong, so a refused form comes back with everything as typed."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.complaints.services import CATEGORY_LABELS, TEXT_MAX

PHOTO_HELP = _l("Facultatif : une photo (ordonnance, reçu…), JPEG, PNG ou WebP, 6 Mo au plus.")


def category_choices(blank: bool = True) -> list[SelectChoice]:
    first = [SelectChoice("", _l("— Choisissez —"))] if blank else []
    return first + [SelectChoice(code, label) for code, label in CATEGORY_LABELS.items()]


class ComplaintForm(FlaskForm):
    """A new complaint (portal: the member's own)."""

    category = SelectField(_l("Objet de la réclamation"), validate_choice=False)
    text = TextAreaField(
        _l("Votre message"),
        description=_l("Ce qui s'est passé, où et quand."),
        validators=[Length(max=TEXT_MAX)],
        render_kw={"rows": 6},
    )
    photo = FileField(
        _l("Photo"), description=PHOTO_HELP, render_kw={"accept": "image/jpeg,image/png,image/webp"}
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = category_choices()


class CounterForm(ComplaintForm):
    """A complaint filed at the counter by an agent for a member (found by number)."""

    number = StringField(
        _l("Numéro de membre"),
        description=_l("Comme sur la carte, par exemple ART-004512-00-C."),
        validators=[Length(max=30)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )


class AssignForm(FlaskForm):
    account = SelectField(_l("Confier à"), validate_choice=False)


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Note interne"),
        description=_l("Visible du personnel seulement."),
        validators=[Length(max=4000)],
        render_kw={"rows": 3},
    )


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Réponse à l'adhérent"),
        description=_l("L'adhérent la lit sur le portail et la reçoit par SMS ou e-mail."),
        validators=[Length(max=4000)],
        render_kw={"rows": 4},
    )


class CloseForm(FlaskForm):
    message = TextAreaField(
        _l("Dernier mot à l'adhérent (facultatif)"),
        validators=[Optional(), Length(max=4000)],
        render_kw={"rows": 2},
    )


class SlaForm(FlaskForm):
    _n = {"inputmode": "numeric", "autocomplete": "off"}
    ack_hours = StringField(_l("Prise en compte sous (heures)"), validators=[Length(max=4)], render_kw=_n)
    resolve_days = StringField(_l("Réponse sous (jours)"), validators=[Length(max=4)], render_kw=_n)
    reopen_days = StringField(
        _l("Réouverture possible pendant (jours)"),
        description=_l("Après la clôture, tant que l'adhérent n'a pas donné son avis. 0 : jamais."),
        validators=[Length(max=4)],
        render_kw=_n,
    )
    escalation_days = StringField(
        _l("Escalade suivante après (jours)"),
        description=_l("Une réclamation en retard monte à la ligue, puis à la fédération si elle le reste."),
        validators=[Length(max=4)],
        render_kw=_n,
    )


class RateForm(FlaskForm):
    rating = RadioField(_l("Votre note"), validate_choice=False)
    comment = TextAreaField(
        _l("Un commentaire (facultatif)"), validators=[Optional(), Length(max=500)], render_kw={"rows": 3}
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.rating.choices = [
            SelectChoice("5", _l("5 — Très satisfait")),
            SelectChoice("4", _l("4 — Satisfait")),
            SelectChoice("3", _l("3 — Moyen")),
            SelectChoice("2", _l("2 — Peu satisfait")),
            SelectChoice("1", _l("1 — Pas du tout satisfait")),
        ]


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l("Pourquoi rouvrir ?"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 3})


class FilterForm(FlaskForm):
    """The queue's filters (GET: no CSRF token)."""

    class Meta:
        csrf = False

    statut = SelectField(_l("Statut"), validate_choice=False)
    categorie = SelectField(_l("Objet"), validate_choice=False)
    association = SelectField(_l("Association"), validate_choice=False)
    retard = SelectField(_l("Afficher"), validate_choice=False)
