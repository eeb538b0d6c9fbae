"""Guarantee letters: issued at once at the agreed price, or queued for the médecin-conseil when an act
needs prior approval (approve / refuse with a note), the signed QR check, the PDF, and consumption by
invoice lines (valid date, provider, quantity left; consumed when all used)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.care import letters
from app.care.models import LetterStatus
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.members import cards
from tests.app.care.test_eligibility import TODAY, agent_actor, audited, setup_care, staff_actor
from tests.fixtures.app import SYSTEM

D = dt.date
__all__ = ["TODAY"]


@pytest.fixture
def alpha(session: Session, world: Any, app: Any, monkeypatch: pytest.MonkeyPatch):
    from tenants.context import tenant_scope

    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with tenant_scope(session, world.alpha):
        yield session
        session.rollback()


def test_letter_without_prior_approval_is_issued_at_the_agreed_price(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    agent = agent_actor(alpha, world.alpha, "care.record")
    letter = letters.issue(
        alpha, world.alpha, agent, member=care["member"], provider=care["a"],
        items=[letters.ItemInput(care["consult"].id, 2)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    assert letter.status == LetterStatus.issued and letter.number.startswith("LG-2027-")
    assert [(i.quantity, i.unit_price, i.needs_approval) for i in letter.items] == [(2, 5000, False)]
    assert letter.estimated_amount == 10_000
    assert audited(alpha, "care.letter_created", letter.number) == 1
    second = letters.issue(
        alpha, world.alpha, agent, member=care["member"], provider=care["a"],
        items=[letters.ItemInput(care["consult"].id, 1, 4200)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    assert int(second.number[-6:]) == int(letter.number[-6:]) + 1 and second.estimated_amount == 4200


def test_prior_approval_goes_to_the_medical_adviser(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    agent = agent_actor(alpha, world.alpha, "care.record")
    adviser = agent_actor(alpha, world.alpha, "care.medical_control", "care.read")
    letter = letters.issue(
        alpha, world.alpha, agent, member=care["member"], provider=care["a"],
        items=[letters.ItemInput(care["consult"].id, 1), letters.ItemInput(care["scan"].id, 1)],
        valid_until=D(2027, 4, 10),
    )  # fmt: skip
    assert letter.status == LetterStatus.pending_approval
    assert letter in letters.approval_queue(alpha, world.alpha, adviser)
    with pytest.raises(Forbidden):
        letters.decide(alpha, world.alpha, agent, letter, approve=True, note="")
    with pytest.raises(FieldError):  # a refusal says why
        letters.decide(alpha, world.alpha, adviser, letter, approve=False, note=" ")
    letters.decide(alpha, world.alpha, adviser, letter, approve=True, note="Indication confirmée")
    assert letter.status == LetterStatus.issued and letter.decided_by_label == "agent"
    assert [i.approved for i in letter.items] == [True, True]
    assert letter not in letters.approval_queue(alpha, world.alpha, adviser)
    with pytest.raises(DomainError):
        letters.decide(alpha, world.alpha, adviser, letter, approve=False, note="trop tard")

    refused = letters.issue(
        alpha, world.alpha, agent, member=care["member"], provider=care["a"],
        items=[letters.ItemInput(care["scan"].id, 1)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    letters.decide(alpha, world.alpha, adviser, refused, approve=False, note="Non justifié")
    assert refused.status == LetterStatus.refused and refused.decision_note == "Non justifié"
    assert audited(alpha, "care.letter_refused", refused.number) == 1


def test_issue_refusals(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    agent = agent_actor(alpha, world.alpha, "care.record")
    base = {"member": care["member"], "provider": care["a"], "valid_until": D(2027, 4, 10)}
    with pytest.raises(FieldError, match="au moins"):
        letters.issue(alpha, world.alpha, agent, items=[], **base)
    with pytest.raises(FieldError):  # beyond 90 days
        letters.issue(alpha, world.alpha, agent, items=[letters.ItemInput(care["consult"].id, 1)],
                      **{**base, "valid_until": D(2027, 12, 31)})  # fmt: skip
    with pytest.raises(Forbidden):  # provider staff do not issue letters
        letters.issue(alpha, world.alpha, staff_actor(alpha, world.alpha, care["a"]),
                      items=[letters.ItemInput(care["consult"].id, 1)], **base)  # fmt: skip


def test_qr_token_verifies_and_a_card_token_does_not(
    alpha: Session, world: Any, app: Any, monkeypatch
) -> None:
    care = setup_care(alpha, world)
    agent = agent_actor(alpha, world.alpha, "care.record")
    letter = letters.issue(
        alpha, world.alpha, agent, member=care["member"], provider=care["a"],
        items=[letters.ItemInput(care["consult"].id, 1)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    token = letters.letter_token(alpha, world.alpha, letter, SYSTEM)
    assert letters.check_token(alpha, world.alpha, token).outcome == "valid"
    card = cards.card_token(alpha, world.alpha, care["member"], valid_until=D(2027, 12, 31))
    assert letters.check_token(alpha, world.alpha, card).outcome == "invalid"
    head, payload, signature = token.split(".")
    assert (
        letters.check_token(alpha, world.alpha, f"{head}.{payload}.{signature[:-4]}AAAA").outcome == "invalid"
    )
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-04-11")
    assert letters.check_token(alpha, world.alpha, token).outcome == "expired"
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    letters.cancel(alpha, world.alpha, agent, letter, note="erreur de saisie")
    assert letters.check_token(alpha, world.alpha, token).outcome == "not_valid"


def test_pdf_carries_the_number(alpha: Session, world: Any, app: Any) -> None:
    care = setup_care(alpha, world)
    letter = letters.issue(
        alpha, world.alpha, agent_actor(alpha, world.alpha, "care.record"), member=care["member"],
        provider=care["a"], items=[letters.ItemInput(care["consult"].id, 1)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    with app.test_request_context("/"):
        data = letters.letter_pdf(
            alpha, world.alpha, SYSTEM, letter, lambda t: f"https://x/alpha/lettres/verify/{t}"
        )
    assert data.startswith(b"%PDF") and len(data) > 1000


def test_consume(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    letter = letters.issue(
        alpha, world.alpha, agent_actor(alpha, world.alpha, "care.record"), member=care["member"],
        provider=care["a"], items=[letters.ItemInput(care["consult"].id, 2)], valid_until=D(2027, 4, 10),
    )  # fmt: skip
    consult = care["consult"].id
    assert not letters.consume(alpha, letter.id, consult, 1, D(2027, 4, 11))  # after validity
    assert not letters.consume(alpha, letter.id, consult, 1, D(2027, 3, 9))  # before issue
    assert not letters.consume(alpha, letter.id, care["scan"].id, 1, D(2027, 3, 12))  # not in the letter
    assert not letters.consume(alpha, letter.id, consult, 1, D(2027, 3, 12), provider_id=care["b"].id)
    assert not letters.consume(alpha, letter.id, consult, 3, D(2027, 3, 12))  # more than left
    assert letters.consume(alpha, letter.id, consult, 1, D(2027, 3, 12), provider_id=care["a"].id)
    assert letter.status == LetterStatus.issued and letter.items[0].consumed_quantity == 1
    assert letters.consume(alpha, letter.id, consult, 1, D(2027, 3, 20))
    assert letter.status == LetterStatus.consumed
    assert not letters.consume(alpha, letter.id, consult, 1, D(2027, 3, 21))


def test_provider_staff_see_only_their_providers_letters(alpha: Session, world: Any) -> None:
    from notifications.models import OutboxMessage

    care = setup_care(alpha, world)
    agent = agent_actor(alpha, world.alpha, "care.record")
    for where in ("a", "b"):
        letters.issue(
            alpha, world.alpha, agent, member=care["member"], provider=care[where],
            items=[letters.ItemInput(care["consult"].id, 1)], valid_until=D(2027, 4, 10),
        )  # fmt: skip
    staff_a = staff_actor(alpha, world.alpha, care["a"])
    seen = letters.list_letters(alpha, world.alpha, staff_a)
    assert seen and {letter.provider_id for letter in seen} == {care["a"].id}
    other = next(x for x in letters.list_letters(alpha, world.alpha, agent) if x.provider_id == care["b"].id)
    with pytest.raises(NotFound):
        letters.get_letter(alpha, world.alpha, staff_a, other.public_id)
    messages = alpha.scalars(select(OutboxMessage).where(OutboxMessage.member_id == care["member"].id)).all()
    assert any(other.number in (m.body or "") for m in messages)  # the member is told (care.letter_issued)


def test_letter_pages_queue_pdf_and_public_check(
    app: Any, world: Any, make_staff: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from app.extensions import db
    from tenants.context import tenant_scope

    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        care = setup_care(db.session, world)
        number, provider_id, scan = care["member"].number, care["a"].public_id, care["scan"].code
        db.session.commit()
    agent = make_staff(("FED-A", "mutual_manager"))
    client = login(agent.email)
    form = {"member": number, "provider": provider_id, "valid_until": "2027-04-01"}
    refused = client.post("/alpha/lettres/nouvelle", data={**form, "items": "NOPE, 1"})
    assert refused.status_code == 200 and "inconnu" in refused.get_data(as_text=True)
    created = client.post("/alpha/lettres/nouvelle", data={**form, "items": f"{scan}, 1"})
    assert created.status_code == 302
    letter_url = created.headers["Location"]
    public_id = letter_url.rstrip("/").rsplit("/", 1)[-1]
    assert "attente" in client.get(letter_url).get_data(as_text=True)
    assert client.get(f"/alpha/lettres/{public_id}/lettre.pdf").status_code == 409  # not issued yet

    adviser = make_staff(("FED-A", "medical_adviser"))
    medical = login(adviser.email)
    assert public_id in medical.get("/alpha/lettres/a-valider").get_data(as_text=True)
    decided = medical.post(f"/alpha/lettres/{public_id}/decision", data={"decision": "approve", "note": "OK"})
    assert decided.status_code == 302
    client = login(agent.email)
    pdf = client.get(f"/alpha/lettres/{public_id}/lettre.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    with app.app_context(), tenant_scope(db.session, world.alpha):
        from app.care.models import GuaranteeLetter

        letter = db.session.scalar(select(GuaranteeLetter).where(GuaranteeLetter.public_id == public_id))
        token = letters.letter_token(db.session, world.alpha, letter, SYSTEM)
        db.session.commit()
    anonymous = app.test_client()
    page = anonymous.get(f"/alpha/lettres/verify/{token}").get_data(as_text=True)
    assert "Valable" in page and "Scanner" in page and number not in page  # no member number, no diagnosis
    assert "falsifiée" in anonymous.get(f"/alpha/lettres/verify/{token[:-3]}abc").get_data(as_text=True)
    assert re.search(r"LG-\d{4}-\d{6}", page)
