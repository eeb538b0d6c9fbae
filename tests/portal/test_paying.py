"""Paying from the portal: "Payer maintenant" starts an online payment of what is owed (the Sandbox in the
embedded default); back from the provider the page shows only what the mutual has processed, then the
receipt."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from payments.models import OnlinePayment, PaymentInbox
from payments.service import process_inbox_row
from tenants.context import tenant_scope


def test_a_member_pays_what_is_owed_and_gets_the_receipt(app, world, make_household, portal_sign_in):
    household = make_household(dues=(5, 6))
    client = portal_sign_in(household.principal)
    started = client.post("/alpha/portail/cotisations/payer", data={"provider": "sandbox"})
    assert started.status_code == 303 and "/alpha/paiements/sandbox/" in started.headers["Location"]
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payment = db.session.scalar(
            select(OnlinePayment).where(OnlinePayment.member_id == household.principal.id)
        )
        assert payment.amount == 4000 and payment.started_by_label == f"adhérent {household.principal.number}"
        public_id = payment.public_id

    back = client.post(started.headers["Location"], data={"answer": "approve"})
    assert back.status_code == 303 and back.headers["Location"].endswith(
        f"/alpha/portail/cotisations/paiement/{public_id}"
    )
    waiting = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "cours de confirmation" in waiting  # the redirect alone proves nothing

    with app.app_context(), tenant_scope(db.session, world.alpha):
        for inbox_id in db.session.scalars(
            select(PaymentInbox.id).where(PaymentInbox.processed_at.is_(None))
        ):
            process_inbox_row(db.session, world.alpha, inbox_id)
        db.session.commit()
    done = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Paiement reçu : reçu n°" in done
    assert "Vous êtes à jour" in client.get("/alpha/portail/cotisations").get_data(as_text=True)

    stranger = portal_sign_in(make_household().principal)
    assert stranger.get(f"/alpha/portail/cotisations/paiement/{public_id}").status_code == 404


def test_nothing_owed_starts_nothing(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)
    assert (
        client.post("/alpha/portail/cotisations/payer")
        .headers["Location"]
        .endswith("/alpha/portail/cotisations")
    )
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert (
            db.session.scalar(
                select(OnlinePayment.id).where(OnlinePayment.member_id == household.principal.id)
            )
            is None
        )
