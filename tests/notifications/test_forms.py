"""The preferences form the portal shows: filled from the stored preferences, saved through the service,
with the service's message next to the field when it refuses."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from notifications import services
from notifications.forms import PreferencesForm
from tests.fixtures.app import SYSTEM


def test_preferences_form_round_trip(app, alpha_session, world, make_member):
    member = make_member()
    with app.test_request_context("/", method="POST"):
        app.config["WTF_CSRF_ENABLED"], saved = False, app.config.get("WTF_CSRF_ENABLED")
        try:
            shown = PreferencesForm(obj=services.get_preferences(alpha_session, member))
            assert shown.locale.data == "fr" and shown.sms_enabled.data and not shown.email_enabled.data
            assert [c.value for c in shown.locale.choices] == ["fr", "en", "wo"]
            posted = PreferencesForm(
                formdata=MultiDict({"locale": "wo", "email": "awa@exemple.sn", "email_enabled": "y"})
            )
            assert posted.validate()
            services.set_preferences(alpha_session, world.alpha, SYSTEM, member, **posted.data_for_service())
        finally:
            app.config["WTF_CSRF_ENABLED"] = saved
    stored = services.get_preferences(alpha_session, member)
    assert (stored.locale, stored.email, stored.email_enabled, stored.sms_enabled, stored.portal_enabled) == (
        "wo", "awa@exemple.sn", True, False, False,
    )  # fmt: skip
