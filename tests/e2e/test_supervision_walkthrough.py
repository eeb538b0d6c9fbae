"""A real browser: the ministry supervisor opens the national dashboard, drills down fédération → ligue →
association, asks for the association's quarterly report, follows its progress and downloads the PDF."""

from __future__ import annotations

from sqlalchemy import select

from app.reports import services as reports
from app.reports.models import Report
from app.reports.tasks import generate_report_task
from hierarchy.models import Node
from hierarchy.supervision import snapshots
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def test_national_dashboard_drill_down_and_quarterly_pdf(
    browser, live_server, session, supervised_mutual, make_staff, sign_in
):
    mutual = supervised_mutual(households=60)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    federation = session.get(Node, mutual.federation)
    league = session.get(Node, mutual.leagues["L1"])
    association = session.get(Node, mutual.associations["L1-1"])
    supervisor = make_staff(("MIN", "supervisor"), mfa_enrolled=False)

    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN", accept_downloads=True)
    sign_in(page, supervisor.email)
    page.goto(f"{live_server}/supervision/")
    page.get_by_role("heading", name="Ministère").wait_for()
    assert page.locator('[data-indicator="beneficiaries_active"] strong').inner_text() not in ("", "0")
    assert page.locator("#children svg").count() > 0  # sparklines and bars, drawn by the server

    page.locator(f'#children a[href*="{federation.public_id}"]').click()
    page.get_by_role("heading", name=federation.name).wait_for()
    page.get_by_role("link", name=league.name).click()
    page.get_by_role("heading", name=league.name).wait_for()
    page.get_by_role("link", name=association.name).click()
    page.get_by_role("heading", name=association.name).wait_for()
    assert "Association" in page.locator("main").inner_text()

    page.get_by_role("link", name="Rapports trimestriels").click()
    year, quarter = reports.previous_quarter(mutual.today)
    page.get_by_label("Année").fill(str(year))
    page.get_by_label("Trimestre").select_option(str(quarter))
    page.get_by_role("button", name="Produire le rapport").click()
    page.get_by_text("en attente").wait_for()
    session.expire_all()
    queued = session.scalar(select(Report).where(Report.node_id == association.id).order_by(Report.id.desc()))
    generate_report_task.apply((queued.public_id,), throw=True)  # what the worker does
    link = page.get_by_role("link", name="Télécharger le PDF")
    link.wait_for(timeout=10_000)  # the progress fragment polls every 2 s
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename == f"rapport-{association.code}-{year}-T{quarter}.pdf"
    page.close()
