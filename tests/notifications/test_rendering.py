"""Message texts: every event in French and English, the Wolof welcome, SMS within one GSM-7 part."""

from __future__ import annotations

import datetime as dt

import pytest

from notifications.rendering import MEMBER_EVENTS, STAFF_EVENTS, gsm_length, is_gsm, render, to_gsm

#: Realistic, long-ish values: the SMS must still fit in one part.
CONTEXTS = {
    "portal.sign_in_code": {"code": "482913", "minutes": 10},
    "portal.welcome": {},
    "payment.received": {"amount": 125000, "receipt_number": "R-2026-0000123"},
    "due.reminder": {"amount": 36000, "due_on": dt.date(2026, 12, 1)},
    "rights.opened": {"reason": ""},
    "rights.suspended": {"reason": "Cotisation impayée depuis le 01/10/2026."},
    "complaint.updated": {"reference": "REC-2026-000123", "status_label": "répondue", "message": "Voir."},
    "care.letter_issued": {"number": "LG-2026-000123", "provider_name": "Hôpital régional de Thiès"},
    "complaint.escalated": {"reference": "REC-2026-000123", "level_label": "ligue", "node_name": "Ligue A"},
    "supervision.alert": {"title": "Taux de recouvrement bas", "node_name": "Ligue A", "detail": "42 %"},
    "care.ceiling_near": {"member_number": "ART-004512-00-C", "benefit_label": "Consultation",
                          "remaining": "5 000 F CFA"},
}  # fmt: skip


def test_every_event_has_a_context_here():
    assert set(CONTEXTS) == set(MEMBER_EVENTS) | set(STAFF_EVENTS)


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("event", sorted(CONTEXTS))
def test_every_event_renders_in_french_and_english_within_one_sms(event, locale):
    rendered = render(event, locale, CONTEXTS[event])
    assert rendered.locale == locale
    assert rendered.sms and rendered.subject and rendered.body
    assert is_gsm(rendered.sms), rendered.sms
    assert gsm_length(rendered.sms) <= 160, (len(rendered.sms), rendered.sms)


def test_texts_differ_per_locale_and_format_money_per_locale():
    french = render("payment.received", "fr", CONTEXTS["payment.received"])
    english = render("payment.received", "en", CONTEXTS["payment.received"])
    assert french.sms.startswith("Paiement recu : 125 000 F CFA")  # ç is not GSM: dropped to c
    assert "Reçu n° R-2026-0000123" in french.body  # the e-mail keeps its accents
    assert english.sms.startswith("Payment received:") and "125,000" in english.sms
    reminder = render("due.reminder", "fr", CONTEXTS["due.reminder"])
    assert "1/12/2026" in reminder.sms and "échéance" in reminder.sms  # é is in the GSM alphabet


def test_wolof_has_the_welcome_and_falls_back_to_french_elsewhere():
    welcome = render("portal.welcome", "wo", {})
    assert welcome.locale == "wo" and "Dalal ak jamm" in welcome.body
    fallback = render("payment.received", "wo", CONTEXTS["payment.received"])
    assert fallback.locale == "fr" and fallback.sms.startswith("Paiement recu")


def test_missing_context_or_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="code"):
        render("portal.sign_in_code", "fr", {"minutes": 10})
    with pytest.raises(ValueError, match="unknown"):
        render("nope", "fr", {})


def test_to_gsm_keeps_gsm_accents_and_replaces_the_others():
    assert (
        to_gsm("Réclamation reçue à Thiès : prêt « ok » — n°1")
        == 'Réclamation recue à Thiès : pret " ok " - no1'
    )
    assert is_gsm(to_gsm("Ñdèye Sàll, côté île"))
