"""Complaint services: filing (portal and counter), gapless references, service-level dates, the staff's
actions and the timeline, overdue detection, escalation association → ligue → fédération (task and staff
notification), reopening, rating once, scope, indicators."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.audit.models import TenantAuditEvent
from app.complaints import services, tasks
from app.complaints.models import Complaint, Status, Visibility
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.members.models import Member
from app.security.actor import Actor
from app.worker import TENANT_HEADER
from notifications.models import OutboxMessage
from tenants.context import tenant_scope
from tests.app.complaints.conftest import Mutual, at

NOW = at("2026-03-02")


def member_actor(member: Member) -> Actor:
    return Actor(account_id=None, label=f"adhérent {member.number}")


def file(session: Session, mutual: Mutual, member_id: int | None = None, *, now: dt.datetime = NOW,
         **kwargs: object) -> Complaint:  # fmt: skip
    member = session.get(Member, member_id or mutual.member_a)
    assert member is not None
    values = {"category": "refused_care", "text": "Le centre de santé a refusé ma carte hier matin."}
    return services.file_complaint(
        session, mutual.tenant, member_actor(member), member, now=now, **{**values, **kwargs}
    )


def jpeg() -> FileStorage:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    out.seek(0)
    return FileStorage(out, filename="ordonnance.jpg", content_type="image/jpeg")


# --- filing, references, due dates -------------------------------------------------------------------------


def test_a_member_files_from_the_portal_and_gets_a_reference_due_dates_and_a_message(scoped, mutual):
    complaint = file(scoped, mutual)
    assert complaint.reference == "REC-2026-000001"
    assert complaint.status is Status.received and complaint.channel.value == "portal"
    assert complaint.association_id == mutual.association_a
    assert complaint.ack_due_at == NOW + dt.timedelta(hours=48)
    assert complaint.resolve_due_at == NOW + dt.timedelta(days=15)
    assert complaint.filed_by_id is None
    [event] = services.timeline(scoped, complaint, member_view=True)
    assert event.kind.value == "filed" and event.visibility is Visibility.member
    messages = scoped.scalars(
        select(OutboxMessage).where(
            OutboxMessage.member_id == mutual.member_a, OutboxMessage.event == "complaint.updated"
        )
    ).all()
    assert messages and "REC-2026-000001" in messages[0].body
    audited = scoped.scalar(select(TenantAuditEvent).where(TenantAuditEvent.action == "complaints.filed"))
    assert audited is not None and audited.target_id == "REC-2026-000001"


def test_references_are_gapless_per_year_even_after_a_refused_filing(scoped, mutual):
    first = file(scoped, mutual)
    with pytest.raises(FieldError) as refused:
        file(scoped, mutual, text="court")
    assert refused.value.field == "text"
    second = file(scoped, mutual, mutual.member_b)
    next_year = file(scoped, mutual, now=at("2027-01-01", 0))
    assert [first.reference, second.reference, next_year.reference] == [
        "REC-2026-000001", "REC-2026-000002", "REC-2027-000001",
    ]  # fmt: skip


def test_two_filings_at_once_get_two_consecutive_references(app: Flask, mutual):
    """The advisory lock serialises numbering: no duplicate, no hole."""
    barrier, results, errors = threading.Barrier(2), [], []

    def worker(member_id: int) -> None:
        try:
            with app.app_context(), tenant_scope(db.session, mutual.tenant):
                barrier.wait()
                results.append(file(db.session, mutual, member_id).reference)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(m,)) for m in (mutual.member_a, mutual.member_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == ["REC-2026-000001", "REC-2026-000002"]


def test_a_bad_category_or_empty_text_is_refused_with_its_field(scoped, mutual):
    with pytest.raises(FieldError) as error:
        file(scoped, mutual, category="weather")
    assert error.value.field == "category"
    with pytest.raises(FieldError) as error:
        file(scoped, mutual, text="   ")
    assert error.value.field == "text"


def test_service_levels_follow_the_mutuals_settings(scoped, mutual, actors):
    with pytest.raises(Forbidden):
        services.configure_sla(scoped, mutual.tenant, actors["agent-a"], ack_hours="24")
    with pytest.raises(FieldError) as error:
        services.configure_sla(scoped, mutual.tenant, actors["federation"], ack_hours="0")
    assert error.value.field == "ack_hours"
    services.configure_sla(scoped, mutual.tenant, actors["federation"], ack_hours="24", resolve_days="10")
    complaint = file(scoped, mutual)
    assert complaint.ack_due_at == NOW + dt.timedelta(hours=24)
    assert complaint.resolve_due_at == NOW + dt.timedelta(days=10)


def test_a_photo_is_reencoded_and_a_wrong_file_refused(app, scoped, mutual):
    complaint = file(scoped, mutual, photo=jpeg())
    assert complaint.photo_path and complaint.photo_path.endswith(".jpg")
    from app.complaints.photos import photo_file

    path = photo_file(mutual.tenant, complaint.photo_path)
    assert path is not None and path.read_bytes().startswith(b"\xff\xd8\xff")
    fake = FileStorage(io.BytesIO(b"%PDF-1.4 not an image"), filename="x.pdf", content_type="application/pdf")
    with pytest.raises(FieldError) as error:
        file(scoped, mutual, photo=fake)
    assert error.value.field == "photo"


def test_an_agent_files_at_the_counter_only_for_members_in_reach(scoped, mutual, actors):
    member_a = scoped.get(Member, mutual.member_a)
    complaint = services.file_complaint(
        scoped, mutual.tenant, actors["agent-a"], member_a, category="reception",
        text="Accueil désagréable au guichet ce matin.", channel="counter", now=NOW,
    )  # fmt: skip
    assert complaint.channel.value == "counter"
    assert complaint.filed_by_id == mutual.accounts[mutual.email("agent-a")]
    assert complaint.filed_by_label == mutual.email("agent-a")
    member_b = scoped.get(Member, mutual.member_b)
    with pytest.raises(NotFound):
        services.file_complaint(
            scoped, mutual.tenant, actors["agent-a"], member_b, category="other",
            text="Ceci ne devrait pas passer du tout.", channel="counter", now=NOW,
        )  # fmt: skip


# --- handling ----------------------------------------------------------------------------------------------


def test_the_whole_handling_is_in_the_timeline_and_only_replies_reach_the_member(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    agent = actors["agent-a"]
    services.acknowledge(scoped, mutual.tenant, agent, complaint, now=NOW + dt.timedelta(hours=2))
    assert complaint.status is Status.acknowledged
    with pytest.raises(DomainError):
        services.acknowledge(scoped, mutual.tenant, agent, complaint)
    later = NOW + dt.timedelta(hours=3)
    services.assign(
        scoped, mutual.tenant, agent, complaint, mutual.accounts[mutual.email("ligue")], now=later
    )
    assert complaint.status is Status.in_progress
    assert complaint.assigned_to_id == mutual.accounts[mutual.email("ligue")]
    services.add_note(scoped, mutual.tenant, agent, complaint, "Appeler le centre de santé.", now=later)
    services.reply(scoped, mutual.tenant, agent, complaint, "Le centre a reconnu l'erreur, revenez demain.",
                   now=NOW + dt.timedelta(days=3))  # fmt: skip
    assert complaint.status is Status.answered and complaint.answered_at == NOW + dt.timedelta(days=3)
    services.close(scoped, mutual.tenant, agent, complaint, "", now=NOW + dt.timedelta(days=4))
    assert complaint.status is Status.closed
    staff_view = [e.kind.value for e in services.timeline(scoped, complaint)]
    assert staff_view == ["filed", "acknowledged", "assigned", "note", "reply", "closed"]
    member_view = services.timeline(scoped, complaint, member_view=True)
    assert [e.kind.value for e in member_view] == ["filed", "acknowledged", "reply", "closed"]
    assert all("Appeler" not in e.body for e in member_view)
    with pytest.raises(DomainError):
        services.reply(scoped, mutual.tenant, agent, complaint, "Trop tard.")
    actions = set(scoped.scalars(
        select(TenantAuditEvent.action).where(TenantAuditEvent.target_id == complaint.reference)
    ))  # fmt: skip
    assert {"complaints.filed", "complaints.acknowledged", "complaints.assigned", "complaints.note_added",
            "complaints.replied", "complaints.closed"} <= actions  # fmt: skip
    updates = scoped.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.member_id == mutual.member_a, OutboxMessage.event == "complaint.updated")
    )  # fmt: skip
    assert updates >= 4  # filed, acknowledged, reply, closed (one per channel the member allows)


def test_assignment_only_to_someone_handling_complaints_there(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    handlers = {
        h.account_id for h in services.handlers_for(scoped, services.association_of(scoped, complaint))
    }
    assert handlers == {mutual.accounts[mutual.email(r)] for r in ("agent-a", "ligue", "federation")}
    for outsider in (
        mutual.accounts[mutual.email("agent-b")],
        mutual.accounts[mutual.email("reader-a")],
        "x",
    ):
        with pytest.raises(FieldError):
            services.assign(scoped, mutual.tenant, actors["agent-a"], complaint, outsider)


def test_reading_without_handling_cannot_act(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    reader = actors["reader-a"]
    assert services.get_for_staff(scoped, mutual.tenant, reader, complaint.public_id) is complaint
    with pytest.raises(Forbidden):
        services.reply(scoped, mutual.tenant, reader, complaint, "Je ne devrais pas pouvoir répondre.")


# --- scope -------------------------------------------------------------------------------------------------


def test_an_agent_of_a_sees_nothing_of_b(scoped, mutual, actors):
    mine, theirs = file(scoped, mutual), file(scoped, mutual, mutual.member_b)
    agent = actors["agent-a"]
    page = services.queue(scoped, mutual.tenant, agent, services.QueueFilters(status=""), now=NOW)
    assert [c.reference for c in page.items] == [mine.reference]
    with pytest.raises(NotFound):
        services.get_for_staff(scoped, mutual.tenant, agent, theirs.public_id)
    with pytest.raises(NotFound):
        services.reply(scoped, mutual.tenant, agent, theirs, "Pas mon association.")
    ligue = services.queue(scoped, mutual.tenant, actors["ligue"], services.QueueFilters(status=""), now=NOW)
    assert {c.reference for c in ligue.items} == {mine.reference, theirs.reference}


def test_a_member_sees_only_their_own(scoped, mutual):
    mine = file(scoped, mutual)
    other = file(scoped, mutual, mutual.member_a2)
    me = scoped.get(Member, mutual.member_a)
    assert [c.reference for c in services.complaints_of(scoped, me)] == [mine.reference]
    with pytest.raises(NotFound):
        services.get_for_member(scoped, me, other.public_id)
    assert services.get_for_member(scoped, me, mine.public_id) is mine


# --- urgency, overdue --------------------------------------------------------------------------------------


def test_overdue_detection_and_the_queue_order(scoped, mutual, actors):
    late_ack = file(scoped, mutual, now=NOW - dt.timedelta(days=3))  # not acknowledged in 48 h
    late_answer = file(scoped, mutual, now=NOW - dt.timedelta(days=20))
    services.acknowledge(
        scoped, mutual.tenant, actors["agent-a"], late_answer, now=NOW - dt.timedelta(days=19)
    )
    fresh = file(scoped, mutual, now=NOW)
    answered = file(scoped, mutual, now=NOW - dt.timedelta(days=30))
    services.reply(
        scoped, mutual.tenant, actors["agent-a"], answered, "Réglé.", now=NOW - dt.timedelta(days=29)
    )
    closed = file(scoped, mutual, now=NOW - dt.timedelta(days=40))
    services.close(scoped, mutual.tenant, actors["agent-a"], closed, now=NOW - dt.timedelta(days=39))
    later = NOW + dt.timedelta(hours=1)
    assert late_ack.is_overdue(later) and late_answer.is_overdue(later)
    assert not any(c.is_overdue(later) for c in (fresh, answered, closed))
    only_late = services.QueueFilters(status="", overdue=True)
    overdue = services.queue(scoped, mutual.tenant, actors["agent-a"], only_late, now=later)
    assert {c.id for c in overdue.items} == {late_ack.id, late_answer.id}
    everything = services.queue(
        scoped, mutual.tenant, actors["agent-a"], services.QueueFilters(status=""), now=later
    )
    order = [c.id for c in everything.items]
    assert order == [late_answer.id, late_ack.id, fresh.id, answered.id, closed.id]
    default = services.queue(
        scoped, mutual.tenant, actors["agent-a"], services.QueueFilters(status="open"), now=later
    )
    assert closed.id not in {c.id for c in default.items}


# --- escalation --------------------------------------------------------------------------------------------


def test_the_hourly_task_escalates_to_the_ligue_then_the_federation_and_tells_their_staff(
    app: Flask, mutual, monkeypatch
):
    import notifications.services as notifications

    told: list[tuple[str, set[int], dict]] = []
    real = notifications.notify_staff

    def spy(session, actor, *, event, account_ids, context):  # type: ignore[no-untyped-def]
        ids = set(account_ids)
        told.append((event, ids, context))
        return real(session, actor, event=event, account_ids=ids, context=context)

    monkeypatch.setattr(notifications, "notify_staff", spy)
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        complaint = file(db.session, mutual, now=NOW)
        on_time = file(db.session, mutual, mutual.member_b, now=NOW + dt.timedelta(days=6))
        reference, late_ref = complaint.reference, on_time.reference
        db.session.commit()

    def run(when: dt.datetime) -> list[str]:
        result = tasks.escalate.apply(
            (when.isoformat(),), headers={TENANT_HEADER: mutual.tenant.slug}, throw=True
        )
        return result.get()

    assert run(NOW + dt.timedelta(hours=47)) == []  # not late yet
    assert run(NOW + dt.timedelta(hours=49)) == [reference]  # not acknowledged in 48 h → ligue
    assert run(NOW + dt.timedelta(hours=50)) == []  # one level at a time: the ligue has 5 days
    assert run(NOW + dt.timedelta(hours=49, days=5)) == [reference]  # still late → fédération
    assert run(NOW + dt.timedelta(days=40)) == [late_ref]  # the other one, now late too; the first stays at 2

    assert [(e, c["reference"], c["level_label"]) for e, _ids, c in told[:2]] == [
        ("complaint.escalated", reference, "Ligue"), ("complaint.escalated", reference, "Fédération"),
    ]  # fmt: skip
    assert told[0][1] == {mutual.accounts[mutual.email("ligue")]}
    assert told[1][1] == {mutual.accounts[mutual.email("federation")]}
    assert told[0][2]["node_name"] == "Ligue de Thiès"
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        row = db.session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert row.escalation_level == 2
        escalations = [e for e in services.timeline(db.session, row) if e.kind.value == "escalated"]
        assert len(escalations) == 2 and all(e.visibility is Visibility.internal for e in escalations)
        assert "Ligue" in escalations[0].body and "Fédération" in escalations[1].body
        audited = db.session.scalar(
            select(func.count()).select_from(TenantAuditEvent).where(
                TenantAuditEvent.action == "complaints.escalated", TenantAuditEvent.target_id == reference
            )
        )  # fmt: skip
        assert audited == 2


def test_escalate_all_queues_every_active_mutual_and_beat_runs_it_hourly(app: Flask, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(tasks.escalate, "apply_async", lambda args, tenant: sent.append(tenant.slug))
    slugs = tasks.escalate_all.apply(throw=True).get()
    assert "alpha" in slugs and sent == slugs
    entry = app.extensions["celery"].conf.beat_schedule["complaints.escalate_all"]
    assert entry["task"] == "complaints.escalate_all"


def test_answering_stops_the_escalation(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    services.reply(scoped, mutual.tenant, actors["agent-a"], complaint, "Nous avons réglé le problème.",
                   now=NOW + dt.timedelta(hours=10))  # fmt: skip
    assert services.escalate_overdue(scoped, mutual.tenant, now=NOW + dt.timedelta(days=30)) == []


# --- the member: reopen, rate ------------------------------------------------------------------------------


def test_rating_once_only_after_closing(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    me = scoped.get(Member, mutual.member_a)
    with pytest.raises(DomainError):
        services.rate(scoped, mutual.tenant, member_actor(me), me, complaint, 4)
    services.close(scoped, mutual.tenant, actors["agent-a"], complaint, "C'est réglé.")
    with pytest.raises(FieldError) as error:
        services.rate(scoped, mutual.tenant, member_actor(me), me, complaint, "6")
    assert error.value.field == "rating"
    services.rate(scoped, mutual.tenant, member_actor(me), me, complaint, "4", "Rapide, merci.")
    assert complaint.rating == 4 and complaint.rating_comment == "Rapide, merci." and complaint.rated_at
    with pytest.raises(DomainError):
        services.rate(scoped, mutual.tenant, member_actor(me), me, complaint, "1")
    assert complaint.rating == 4
    other = scoped.get(Member, mutual.member_a2)
    with pytest.raises(NotFound):
        services.rate(scoped, mutual.tenant, member_actor(other), other, complaint, "1")
    assert not services.can_reopen(scoped, complaint)  # rated: the member accepted the outcome


def test_the_member_reopens_within_the_allowed_days_with_a_fresh_window(scoped, mutual, actors):
    complaint = file(scoped, mutual)
    me = scoped.get(Member, mutual.member_a)
    closed_at = NOW + dt.timedelta(days=2)
    services.close(scoped, mutual.tenant, actors["agent-a"], complaint, "Réglé.", now=closed_at)
    with pytest.raises(DomainError):
        services.reopen(scoped, mutual.tenant, member_actor(me), me, complaint, "Toujours pas réglé ici.",
                        now=closed_at + dt.timedelta(days=8))  # fmt: skip
    reopened_at = closed_at + dt.timedelta(days=6)
    services.reopen(scoped, mutual.tenant, member_actor(me), me, complaint, "Toujours pas réglé chez moi.",
                    now=reopened_at)  # fmt: skip
    assert complaint.status is Status.in_progress and complaint.closed_at is None
    assert complaint.answered_at is None and complaint.reopened_count == 1
    assert complaint.resolve_due_at == reopened_at + dt.timedelta(days=15)


# --- indicators --------------------------------------------------------------------------------------------


def test_stats_for_the_supervision_indicators(scoped, mutual, actors):
    agent, me = actors["agent-a"], scoped.get(Member, mutual.member_a)
    quick = file(scoped, mutual, now=NOW)
    services.reply(scoped, mutual.tenant, agent, quick, "Réglé.", now=NOW + dt.timedelta(days=1))
    services.close(scoped, mutual.tenant, agent, quick, now=NOW + dt.timedelta(days=2))
    services.rate(scoped, mutual.tenant, member_actor(me), me, quick, 5)
    slow = file(scoped, mutual, now=NOW)
    services.close(scoped, mutual.tenant, agent, slow, now=NOW + dt.timedelta(days=20))
    services.rate(scoped, mutual.tenant, member_actor(me), me, slow, 2)
    file(scoped, mutual, now=NOW)  # open, overdue at the end
    file(scoped, mutual, mutual.member_b, now=NOW)  # another association: not counted
    file(scoped, mutual, now=NOW + dt.timedelta(days=60))  # outside the period
    result = services.stats(
        scoped, [mutual.association_a], NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30),
        now=NOW + dt.timedelta(days=25),
    )  # fmt: skip
    assert result == {
        "filed": 3, "open": 1, "overdue": 1, "resolved": 2, "resolved_in_sla": 1, "rating_average": 3.5,
        "ratings_count": 2, "satisfied": 1,
    }  # fmt: skip
    empty = services.stats(scoped, [], NOW, NOW + dt.timedelta(days=1))
    assert empty["filed"] == 0 and empty["rating_average"] is None


def test_a_ligue_without_staff_of_its_own_passes_the_word_to_the_federation(
    app: Flask, session, mutual, monkeypatch
):
    import notifications.services as notifications
    from app.security.models import Account, AccountStatus

    session.get(Account, mutual.accounts[mutual.email("ligue")]).status = AccountStatus.disabled
    session.commit()
    told: list[set[int]] = []
    monkeypatch.setattr(
        notifications, "notify_staff", lambda *_a, account_ids, **_k: told.append(set(account_ids))
    )
    with tenant_scope(session, mutual.tenant):
        complaint = file(session, mutual)
        assert services.escalate_overdue(session, mutual.tenant, now=NOW + dt.timedelta(days=3)) == [
            complaint
        ]
    assert complaint.escalation_level == 1
    assert told == [{mutual.accounts[mutual.email("federation")]}]
