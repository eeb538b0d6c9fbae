"""Forms of notifications: the member's preferences (shown by the portal's "mes données" page) and the back
office's outbox filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from notifications.models import CHANNELS, MessageStatus
from notifications.rendering import MEMBER_EVENTS

LOCALE_CHOICES = (("fr", _l("Français")), ("en", _l("English")), ("wo", _l("Wolof (accueil)")))
CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("E-mail"), "portal": _l("Portail")}
STATUS_LABELS = {
    "queued": _l("En attente"),
    "sending": _l("En cours d'envoi"),
    "sent": _l("Envoyé"),
    "delivered": _l("Remis"),
    "failed": _l("Échec"),
}
EVENT_LABELS = {
    "portal.sign_in_code": _l("Code de connexion"),
    "portal.welcome": _l("Bienvenue"),
    "payment.received": _l("Paiement reçu"),
    "due.reminder": _l("Rappel d'échéance"),
    "rights.opened": _l("Droits ouverts"),
    "rights.suspended": _l("Droits suspendus"),
    "complaint.updated": _l("Réclamation mise à jour"),
    "care.letter_issued": _l("Lettre de garantie"),
    "complaint.escalated": _l("Réclamation escaladée"),
    "supervision.alert": _l("Alerte de supervision"),
    "care.ceiling_near": _l("Plafond proche"),
}


class PreferencesForm(FlaskForm):
    """Language and channels of the member's messages. Fill from ``get_preferences`` with
    ``PreferencesForm(obj=preferences)``; pass ``form.data_for_service()`` to ``set_preferences``."""

    locale = SelectField(_l("Langue des messages"), validate_choice=False)
    email = EmailField(
        _l("Adresse e-mail (facultatif)"),
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )
    sms_enabled = BooleanField(_l("Recevoir les SMS"))
    email_enabled = BooleanField(_l("Recevoir les e-mails"))
    portal_enabled = BooleanField(_l("Recevoir les messages sur le portail"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [SelectChoice(code, str(label)) for code, label in LOCALE_CHOICES]
        self.sms_enabled.description = _l("Les codes de connexion arrivent toujours par SMS.")

    def data_for_service(self) -> dict[str, object]:
        return {
            "locale": self.locale.data,
            "email": self.email.data or None,
            "sms_enabled": bool(self.sms_enabled.data),
            "email_enabled": bool(self.email_enabled.data),
            "portal_enabled": bool(self.portal_enabled.data),
        }


class OutboxFilterForm(FlaskForm):
    """Filters of the outbox list (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    channel = SelectField(_l("Canal"), validate_choice=False)
    status = SelectField(_l("État"), validate_choice=False)
    event = SelectField(_l("Événement"), validate_choice=False)

    def __init__(self, *args: object, staff: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        everything = SelectChoice("", str(_l("Tous")))
        channels = ("email", "sms") if staff else CHANNELS
        self.channel.choices = [everything] + [SelectChoice(c, str(CHANNEL_LABELS[c])) for c in channels]
        self.status.choices = [everything] + [
            SelectChoice(s.value, str(STATUS_LABELS[s.value])) for s in MessageStatus
        ]
        events = [e for e in EVENT_LABELS if (e not in MEMBER_EVENTS) == staff]
        self.event.choices = [everything] + [SelectChoice(e, str(EVENT_LABELS[e])) for e in events]


class RetryForm(FlaskForm):
    """ "Send again" (a button: the CSRF token is its only field)."""
