"""Dashboards: figures read from the snapshots, drill-down, filters, and a supervisor sees exactly their
subtree (a ligue supervisor cannot open another ligue, nor the ministry)."""

from __future__ import annotations

import re

from sqlalchemy import text

from app.formatting import money
from hierarchy.models import Node
from hierarchy.supervision import snapshots
from hierarchy.supervision.compute import month_start
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def _public_id(session, node_id):
    return session.get(Node, node_id).public_id


def _number(page: str, code: str) -> str:
    found = re.search(rf'data-indicator="{code}"><strong>([^<]*)</strong>', page)
    assert found, code
    return found.group(1)


def test_ministry_dashboard_shows_snapshot_figures_and_drills_down(
    session, supervised_mutual, make_staff, login
):
    mutual = supervised_mutual()
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    staff = make_staff(("MIN", "supervisor"), mfa_enrolled=False)
    client = login(staff.email)
    response = client.get("/supervision/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    ministry_total = session.execute(
        text(
            "SELECT value FROM supervision_snapshots s JOIN hierarchy_nodes n ON n.id = s.node_id "
            "WHERE n.code = 'MIN' AND s.month = :m AND s.measure = 'beneficiaries_active' "
            "AND s.breakdown = ''"
        ),
        {"m": month_start(mutual.today)},
    ).scalar_one()
    assert _number(page, "beneficiaries_active").replace("\u202f", "").replace("\xa0", "") == str(
        ministry_total
    )
    assert "<svg" in page and "<script>" not in page
    federation = _public_id(session, mutual.federation)
    assert f"/supervision/noeuds/{federation}" in page  # the children table links down
    league = client.get(f"/supervision/noeuds/{_public_id(session, mutual.leagues['L1'])}").get_data(
        as_text=True
    )
    association_id = _public_id(session, mutual.associations["L1-1"])
    assert f"/supervision/noeuds/{association_id}" in league
    association = client.get(f"/supervision/noeuds/{association_id}")
    assert association.status_code == 200
    collected = session.execute(
        text(
            "SELECT value FROM supervision_snapshots WHERE node_id = :n AND month = :m "
            "AND measure = 'payments_received' "
            "AND breakdown = ''"
        ),
        {"n": mutual.associations["L1-1"], "m": month_start(mutual.today)},
    ).scalar()
    if collected:
        assert money(collected) in association.get_data(as_text=True)


def test_a_league_supervisor_sees_exactly_their_subtree(session, supervised_mutual, make_staff, login):
    mutual = supervised_mutual(households=20)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    league_code = session.get(Node, mutual.leagues["L1"]).code
    staff = make_staff((league_code, "supervisor"), mfa_enrolled=False)
    client = login(staff.email)
    own = _public_id(session, mutual.leagues["L1"])
    assert client.get("/supervision/").headers["Location"].endswith(f"/supervision/noeuds/{own}")
    assert (
        client.get("/supervision/?periode=annee&public_id=x")
        .headers["Location"]
        .endswith(f"/supervision/noeuds/{own}?periode=annee")
    )
    assert client.get(f"/supervision/noeuds/{own}").status_code == 200
    assert (
        client.get(f"/supervision/noeuds/{_public_id(session, mutual.associations['L1-2'])}").status_code
        == 200
    )
    for other in (mutual.leagues["L2"], mutual.associations["L2-1"], mutual.federation):
        assert client.get(f"/supervision/noeuds/{_public_id(session, other)}").status_code == 403
    ministry = session.execute(text("SELECT public_id FROM hierarchy_nodes WHERE code = 'MIN'")).scalar_one()
    assert client.get(f"/supervision/noeuds/{ministry}").status_code == 403
    # Rules and targets of another ligue are refused too (the supervisor profile manages its own subtree).
    assert client.get(f"/supervision/noeuds/{own}/alertes").status_code == 200
    other = _public_id(session, mutual.leagues["L2"])
    assert client.get(f"/supervision/noeuds/{other}/alertes").status_code == 403
    assert client.get(f"/supervision/noeuds/{other}/cible").status_code == 403


def test_filters_by_region_and_sector_and_a_bad_month(session, supervised_mutual, make_staff, login):
    mutual = supervised_mutual(households=40)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    staff = make_staff((mutual.federation_code, "supervisor"), mfa_enrolled=False)
    client = login(staff.email)
    federation = _public_id(session, mutual.federation)
    whole = client.get(f"/supervision/noeuds/{federation}").get_data(as_text=True)
    dakar = client.get(f"/supervision/noeuds/{federation}?region=Dakar").get_data(as_text=True)
    league_l1 = session.execute(
        text(
            "SELECT value FROM supervision_snapshots WHERE node_id = :n AND month = :m "
            "AND measure = 'beneficiaries_active' AND breakdown = ''"
        ),
        {"n": mutual.leagues["L1"], "m": month_start(mutual.today)},
    ).scalar_one()
    digits = lambda s: s.replace("\u202f", "").replace("\xa0", "")  # noqa: E731
    assert digits(_number(dakar, "beneficiaries_active")) == str(league_l1)  # the Dakar ligue only
    assert int(digits(_number(whole, "beneficiaries_active"))) > league_l1
    other_sector = client.get(f"/supervision/noeuds/{federation}?secteur=transport").get_data(as_text=True)
    assert _number(other_sector, "beneficiaries_active") == "0"
    bad = client.get(f"/supervision/noeuds/{federation}?mois=2026-13")
    assert bad.status_code == 200 and "Mois invalide" in bad.get_data(as_text=True)


def test_a_population_target_gives_the_coverage_rate(session, supervised_mutual, make_staff, login):
    mutual = supervised_mutual(households=40)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    staff = make_staff((mutual.federation_code, "supervisor"), mfa_enrolled=False)
    client = login(staff.email)
    federation = _public_id(session, mutual.federation)
    refused = client.post(
        f"/supervision/noeuds/{federation}/cible", data={"year": mutual.today.year, "population": 0}
    )
    assert refused.status_code == 200 and "Indiquez une population d&#39;au moins 1." in refused.get_data(
        as_text=True
    )
    saved = client.post(
        f"/supervision/noeuds/{federation}/cible", data={"year": mutual.today.year, "population": 400}
    )
    assert saved.status_code == 302
    page = client.get(f"/supervision/noeuds/{federation}").get_data(as_text=True)
    active = session.execute(
        text(
            "SELECT value FROM supervision_snapshots WHERE node_id = :n AND month = :m "
            "AND measure = 'beneficiaries_active' AND breakdown = ''"
        ),
        {"n": mutual.federation, "m": month_start(mutual.today)},
    ).scalar_one()
    expected = f"{active * 100 / 400:.1f}".replace(".", ",") + " %"
    assert f'data-indicator="coverage_rate">{expected}<' in page.replace("\xa0", " ")
    audited = session.execute(
        text("SELECT count(*) FROM audit_events WHERE action = 'supervision.target_set' AND target_id = :id"),
        {"id": federation},
    ).scalar_one()
    assert audited == 1
    queued = client.post(f"/supervision/noeuds/{federation}/actualiser")
    assert queued.status_code == 302
