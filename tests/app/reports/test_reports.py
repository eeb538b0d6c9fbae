"""Quarterly reports: requested by a supervisor, built by the job with its progress, PDF and XLSX carrying
the quarter's figures from the snapshots and the children comparison; the archive and its permissions."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select, text

from app.reports import services
from app.reports.models import Report
from app.reports.tasks import generate_report_task
from hierarchy.models import Node
from hierarchy.supervision import snapshots
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def test_a_supervisor_produces_the_quarterly_report_pdf_and_xlsx(
    session, supervised_mutual, make_staff, login
):
    mutual = supervised_mutual(households=60)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    federation = session.get(Node, mutual.federation)
    staff = make_staff((mutual.federation_code, "supervisor"), mfa_enrolled=False)
    client = login(staff.email)
    year, quarter = services.previous_quarter(mutual.today)
    page = client.get(f"/supervision/rapports/noeuds/{federation.public_id}")
    assert page.status_code == 200 and "Produire le rapport" in page.get_data(as_text=True)
    sent = client.post(
        f"/supervision/rapports/noeuds/{federation.public_id}", data={"year": year, "quarter": str(quarter)}
    )
    assert sent.status_code == 302
    public_id = sent.headers["Location"].rsplit("/", 1)[-1]
    waiting = client.get(f"/supervision/rapports/{public_id}").get_data(as_text=True)
    assert "en attente" in waiting and 'hx-trigger="every 2s"' in waiting

    generate_report_task.apply((public_id,), throw=True)  # what the worker runs
    done = client.get(f"/supervision/rapports/{public_id}").get_data(as_text=True)
    assert "prêt" in done and "100 %" in done and "hx-trigger" not in done

    pdf = client.get(f"/supervision/rapports/{public_id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and len(pdf.data) > 2000
    xlsx = client.get(f"/supervision/rapports/{public_id}/xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.data))
    rows = {r[0]: r for r in book["Indicateurs"].iter_rows(min_row=4, values_only=True)}
    months = services.quarter_months(year, quarter)
    stored = dict(
        session.execute(
            text(
                "SELECT measure, sum(value) FILTER (WHERE month = :last) FROM supervision_snapshots "
                "WHERE node_id = :n AND breakdown = '' AND month BETWEEN :first AND :last GROUP BY measure"
            ),
            {"n": federation.id, "first": months[0], "last": months[-1]},
        ).all()
    )
    flows = dict(
        session.execute(
            text(
                "SELECT measure, sum(value) FROM supervision_snapshots WHERE node_id = :n AND breakdown = '' "
                "AND month BETWEEN :first AND :last GROUP BY measure"
            ),
            {"n": federation.id, "first": months[0], "last": months[-1]},
        ).all()
    )
    assert rows["beneficiaries_active"][3] == stored["beneficiaries_active"] > 0  # a stock: the quarter's end
    assert rows["payments_received"][3] == flows["payments_received"] > 0  # a flow: the three months
    expected_rate = round(float(flows["dues_collected"]) * 100 / float(flows["dues_expected"]), 2)
    assert abs(rows["collection_rate"][3] - expected_rate) < 0.01
    sheet = list(book["Comparaison"].iter_rows(values_only=True))
    column = sheet[0].index("Bénéficiaires actifs")
    comparison = sheet[1:]
    assert sorted(r[0] for r in comparison) == sorted(
        session.get(Node, league).code for league in mutual.leagues.values()
    )
    assert (
        sum(r[column] for r in comparison) == rows["beneficiaries_active"][3]
    )  # children add up to the parent

    # Someone of another ligue neither sees nor downloads it.
    league_code = session.get(Node, mutual.leagues["L1"]).code
    outsider = make_staff((league_code, "supervisor"), mfa_enrolled=False)
    other = login(outsider.email)
    assert other.get(f"/supervision/rapports/{public_id}/pdf").status_code == 404
    assert other.get(f"/supervision/rapports/noeuds/{federation.public_id}").status_code == 403


def test_the_quarterly_schedule_queues_each_upper_node_once(session, supervised_mutual):
    mutual = supervised_mutual(households=10)
    made = services.schedule_quarterly(session, today=mutual.today)
    session.commit()
    kinds = {r.node.kind.value for r in made}
    assert kinds <= {"ministry", "federation", "league"} and mutual.federation in {r.node_id for r in made}
    assert services.schedule_quarterly(session, today=mutual.today) == []
    report = session.scalar(
        select(Report).where(Report.node_id == mutual.federation, Report.automatic.is_(True))
    )
    assert report.status == "queued"


def test_a_future_quarter_and_a_reader_without_the_right_are_refused(session, make_staff, login, world):
    from app import clock
    from tests.fixtures.app import node

    federation = node("FED-A")
    manager = make_staff(("FED-A", "supervisor"), mfa_enrolled=False)
    client = login(manager.email)
    year, quarter = services.quarter_of(clock.today())
    later = client.post(
        f"/supervision/rapports/noeuds/{federation.public_id}", data={"year": year + 1, "quarter": "1"}
    )
    assert later.status_code == 200 and "Année invalide." in later.get_data(as_text=True)
    if quarter < 4:
        ahead = client.post(
            f"/supervision/rapports/noeuds/{federation.public_id}",
            data={"year": year, "quarter": str(quarter + 1)},
        )
        assert "Ce trimestre n&#39;a pas encore commencé." in ahead.get_data(as_text=True)
    reader = make_staff(("FED-A", "accountant"), mfa_enrolled=False)  # reports.read without alerts.manage
    other = login(reader.email)
    page = other.get(f"/supervision/rapports/noeuds/{federation.public_id}").get_data(as_text=True)
    assert "Produire le rapport" not in page
    refused = other.post(
        f"/supervision/rapports/noeuds/{federation.public_id}", data={"year": year, "quarter": "1"}
    )
    assert refused.status_code == 403


def test_a_report_that_cannot_be_built_is_marked_failed_and_audited(session, supervised_mutual, monkeypatch):
    mutual = supervised_mutual(households=10)
    services.schedule_quarterly(session, today=mutual.today)
    session.commit()
    report = session.scalar(
        select(Report).where(Report.node_id == mutual.federation, Report.automatic.is_(True))
    )
    public_id = report.public_id

    def broken(_data):
        raise RuntimeError("disque plein")

    monkeypatch.setattr(services, "render_pdf", broken)
    failed = generate_report_task.apply((public_id,))
    assert isinstance(failed.result, RuntimeError)
    session.expire_all()
    report = session.scalar(select(Report).where(Report.public_id == public_id))
    assert report.status == "failed" and "disque plein" in report.error
    audited = session.scalar(
        text("SELECT count(*) FROM audit_events WHERE action = 'reports.failed' AND target_id = :id"),
        {"id": public_id},
    )
    assert audited == 1
