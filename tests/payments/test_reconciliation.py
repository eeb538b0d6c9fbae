"""Reconciliation finds each kind of difference (uploaded report, Sandbox ledger), a difference is resolved
with a comment, the screen uploads a report; Orange Money's token-only notification finds its payment by the
token's hash."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.errors import FieldError
from app.extensions import db
from payments import reconciliation, service
from payments.models import OnlinePayment, OnlineStatus, ReconciliationItem, SandboxCharge
from payments.providers import registry
from payments.providers.base import ProviderStatus, StartRequest, StartResult, StatusResult
from payments.providers.orange_money import OrangeMoneyProvider, make_ref, notif_token_digest
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import add_due, make_household, principal_of
from tests.fixtures.app import SYSTEM

DAY = dt.date(2025, 6, 10)  # a day of its own: no other test pays on it


def _paid(
    session: Session, member_id: int, amount: int, *, provider: str = "sandbox", day: dt.date = DAY
) -> OnlinePayment:
    payment = OnlinePayment(
        member_id=member_id, provider=provider, amount=amount, status=OnlineStatus.succeeded,
        provider_ref=f"ref_{uuid.uuid4().hex[:12]}",
        succeeded_at=dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC),
    )  # fmt: skip
    session.add(payment)
    session.flush()
    return payment


def _kinds(session: Session, run) -> dict[str, list[ReconciliationItem]]:
    found: dict[str, list[ReconciliationItem]] = {}
    for item in reconciliation.items_of(session, run):
        found.setdefault(item.kind, []).append(item)
    return found


def _day_cleared(session: Session, day: dt.date) -> None:
    """The database outlives one test: another run of this file may have left payments on ``day``."""
    for payment in reconciliation.our_payments(session, "sandbox", day):
        payment.succeeded_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    for charge in session.scalars(
        select(SandboxCharge).where(
            SandboxCharge.answered_at >= start, SandboxCharge.answered_at < start + dt.timedelta(days=1)
        )
    ):
        charge.answered_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    session.flush()


def test_an_uploaded_report_shows_every_kind_of_difference(alpha, world):
    _day_cleared(alpha, DAY)
    household = make_household(alpha, world)
    same, differs, absent = (_paid(alpha, household.principal_id, a) for a in (2000, 3000, 4000))
    csv = (
        "reference;montant;statut\n"
        f"{same.provider_ref};2 000;SUCCESS\n"
        f"{differs.provider_ref};2500;succeeded\n"
        "ref_unknown_to_us;1500;paid\n"
        "ref_failed_there;1500;FAILED\n"
    ).encode()
    rows = reconciliation.parse_report(csv)
    assert rows[0].amount == 2000
    run = reconciliation.reconcile(alpha, world.alpha, "sandbox", DAY, rows)
    kinds = _kinds(alpha, run)
    assert run.matched == 1 and run.differences == 3
    assert [(i.provider_ref, i.their_amount) for i in kinds["missing_ours"]] == [("ref_unknown_to_us", 1500)]
    assert [(i.payment_id, i.our_amount) for i in kinds["missing_theirs"]] == [(absent.id, 4000)]
    assert [(i.our_amount, i.their_amount) for i in kinds["amount_differs"]] == [(3000, 2500)]
    audited = alpha.scalar(
        select(TenantAuditEvent).where(
            TenantAuditEvent.action == "payments.reconciled", TenantAuditEvent.target_id == run.public_id
        )
    )
    assert audited is not None and audited.details["differences"] == 3
    alpha.rollback()


def test_comma_separated_reports_and_bad_files(alpha):
    rows = reconciliation.parse_report(b"status,amount,provider_ref\nsucceeded,1000,abc\n")
    assert rows == [reconciliation.ReportRow("abc", 1000, "succeeded")]
    with pytest.raises(FieldError):
        reconciliation.parse_report(b"ref;statut\nabc;ok\n")
    with pytest.raises(FieldError):
        reconciliation.parse_report(b"ref;montant;statut\nabc;mille;ok\n")


def test_the_sandbox_ledger_is_the_report_of_the_daily_job(alpha, world):
    day = DAY + dt.timedelta(days=1)
    _day_cleared(alpha, day)
    household = make_household(alpha, world)
    at = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    matched, differs, absent = (_paid(alpha, household.principal_id, a, day=day) for a in (1000, 2000, 3000))
    charges = [(matched.provider_ref, 1000, "succeeded"), (differs.provider_ref, 2500, "succeeded"),
               ("sbx_only_there", 700, "succeeded"), ("sbx_declined", 700, "failed")]  # fmt: skip
    for ref, amount, status in charges:
        alpha.add(
            SandboxCharge(
                provider_ref=ref, payment_public_id="p", amount=amount, currency="XOF", status=status,
                answered_at=at,
            )
        )  # fmt: skip
    alpha.flush()
    run = reconciliation.reconcile_from_provider(alpha, world.alpha, "sandbox", day)
    kinds = _kinds(alpha, run)
    assert run.source == "api" and run.matched == 1
    assert {k: len(v) for k, v in kinds.items()} == {
        "missing_ours": 1,
        "missing_theirs": 1,
        "amount_differs": 1,
    }
    assert kinds["missing_theirs"][0].payment_id == absent.id
    alpha.rollback()


def test_resolving_a_difference_needs_a_comment_and_is_audited(alpha, world):
    run = reconciliation.reconcile(
        alpha,
        world.alpha,
        "sandbox",
        DAY - dt.timedelta(days=30),
        [reconciliation.ReportRow("zz", 5, "paid")],
    )
    item = reconciliation.items_of(alpha, run)[0]
    with pytest.raises(FieldError):
        reconciliation.resolve_item(alpha, SYSTEM, item, "  ")
    reconciliation.resolve_item(alpha, SYSTEM, item, "Remboursé par l'opérateur le 12/06")
    assert item.resolved_at is not None and item.comment.startswith("Remboursé")
    with pytest.raises(FieldError):
        reconciliation.resolve_item(alpha, SYSTEM, item, "encore")
    assert alpha.scalar(
        select(TenantAuditEvent).where(
            TenantAuditEvent.action == "payments.reconciliation_resolved",
            TenantAuditEvent.target_id == str(item.id),
        )
    )
    alpha.rollback()


def test_upload_and_resolve_on_the_screen(app, world, login):
    client = login("manager.a@test.sn")
    assert client.get("/alpha/paiements/reglages/").status_code == 200
    report = (io.BytesIO(b"provider_ref;amount;status\nscreen_only_there;900;SUCCESS\n"), "releve.csv")
    day = (DAY - dt.timedelta(days=60)).strftime("%d/%m/%Y")
    done = client.post(
        "/alpha/paiements/reglages/rapprochements",
        data={"provider": "sandbox", "day": day, "report": report},
        content_type="multipart/form-data",
    )
    assert done.status_code == 303, done.get_data(as_text=True)[:800]
    page = client.get(done.location).get_data(as_text=True)
    assert "screen_only_there" in page and "Absent chez nous" in page
    with app.app_context(), tenant_scope(db.session, world.alpha):
        item = db.session.scalar(
            select(ReconciliationItem).where(ReconciliationItem.provider_ref == "screen_only_there")
            .order_by(ReconciliationItem.id.desc())
        )  # fmt: skip
        assert item is not None
        item_id = item.id
    url = f"/alpha/paiements/reglages/rapprochements/ecarts/{item_id}"
    assert client.post(url, data={"comment": ""}).status_code == 422
    assert client.post(url, data={"comment": "Paiement test de l'opérateur"}).status_code == 303
    assert "Paiement test de l&#39;opérateur" in client.get(done.location).get_data(as_text=True)
    bad = client.post(
        "/alpha/paiements/reglages/rapprochements",
        data={"provider": "sandbox", "day": day, "report": (io.BytesIO(b"x;y\n1;2\n"), "r.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "Colonne manquante" in bad.get_data(as_text=True)


# --- Orange Money: the notification carries only a token ---------------------------------------------------


class FakeOrange(OrangeMoneyProvider):
    """Orange's answers without Orange: start hands out a notif token; the status API says succeeded."""

    token = ""

    def __init__(self) -> None:  # no credentials, no HTTP
        self.currency = "XOF"

    def start(self, request: StartRequest) -> StartResult:
        FakeOrange.token = uuid.uuid4().hex
        return StartResult(
            provider_ref=make_ref("pt_" + uuid.uuid4().hex[:8], request.amount, request.payment_id),
            redirect_url="https://orange.example/pay",
            raw={"notif_token_sha256": notif_token_digest(FakeOrange.token)},
        )

    def fetch_status(self, provider_ref: str) -> StatusResult:
        _token, amount, _order = provider_ref.split("|", 2)
        return StatusResult(provider_ref, ProviderStatus.succeeded, int(amount), "XOF")


@pytest.fixture
def fake_orange(app, monkeypatch):
    monkeypatch.setitem(registry._factories, "orange_money", lambda tenant, credentials: FakeOrange())
    monkeypatch.setitem(app.config, "MBOLO_PAYMENT_PROVIDERS", {"alpha": {"orange_money": {}}})
    with app.test_request_context("/"):
        yield


def test_an_orange_money_notification_finds_its_payment_by_the_token_hash(alpha, world, fake_orange):
    household = make_household(alpha, world)
    add_due(alpha, household, 1, amount=2000)
    payment = service.start_payment(
        alpha, world.alpha, SYSTEM, principal_of(alpha, household), 2000, "orange_money"
    )
    alpha.commit()
    assert payment.notif_token_sha256 == notif_token_digest(FakeOrange.token)

    forged = json.dumps({"status": "SUCCESS", "notif_token": "not-the-token", "txnid": "MP1"}).encode()
    row = service.receive_webhook(alpha, world.alpha, "orange_money", forged, {})
    alpha.commit()
    assert row is not None and service.process_inbox_row(alpha, world.alpha, row.id)
    alpha.commit()
    assert row.error == "paiement inconnu"
    alpha.refresh(payment)
    assert payment.status is OnlineStatus.pending

    body = json.dumps({"status": "SUCCESS", "notif_token": FakeOrange.token, "txnid": "MP2"}).encode()
    row = service.receive_webhook(alpha, world.alpha, "orange_money", body, {})
    alpha.commit()
    assert row is not None and service.process_inbox_row(alpha, world.alpha, row.id)
    alpha.commit()
    alpha.refresh(payment)
    assert row.error is None and payment.status is OnlineStatus.succeeded
    assert payment.contribution_payment_id is not None
