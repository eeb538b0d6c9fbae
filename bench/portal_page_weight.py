"""Measure the member portal's weight and speed on a phone, in Chromium (Playwright, Debian's
/usr/bin/chromium), against the app served on the embedded PostgreSQL in a database of its own: a household
of three (adhérent, spouse, child) with a product of six benefits and ceilings, two dues owed and one paid.

- first load of each page with an empty cache: the bytes transferred (CDP ``Network.loadingFinished``
  ``encodedDataLength``: headers and compressed bodies, every asset included) — target ≤ 30 KB;
- each htmx navigation (a click on the portal's menu once the page is loaded) — target ≤ 8 KB;
- under Slow 3G (``Network.emulateNetworkConditions``: 400 kbit/s down and up, 400 ms latency), from an
  empty cache, the time until the sign-in page and the rights page are usable (the load event: the page is
  drawn and its form or content is there) — target ≤ 3 s;
- each reading page with JavaScript disabled: it answers 200 and shows its heading.

Prints a table: figure, value, target, verdict.

    .venv/bin/python bench/portal_page_weight.py [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app.complaints.services import file_complaint  # noqa: E402
from app.contributions import payments  # noqa: E402
from app.contributions.models import Due, Subscription  # noqa: E402
from app.coverage.models import (  # noqa: E402
    Basis,
    Benefit,
    BenefitCategory,
    Periodicity,
    Product,
    ProductBenefit,
    ProductVersion,
)
from app.extensions import db  # noqa: E402
from app.members import services  # noqa: E402
from app.members.services import ConsentInput, DependantInput, PersonInput  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from notifications.models import OutboxMessage  # noqa: E402
from portal.services import member_actor_for  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.services import create_tenant  # noqa: E402

CHROMIUM = os.environ.get("MBOLO_CHROMIUM", "/usr/bin/chromium")
FIRST_LOAD_KB, HTMX_KB, SLOW_3G_S, SLOW_3G_RUNS = 30.0, 8.0, 3.0, 5
TODAY = dt.date(2026, 6, 15)
PAGES = {  # path → (menu label, heading)
    "": ("Accueil", "Bonjour"),
    "droits": ("Mes droits", "Mes droits aujourd'hui"),
    "foyer": ("Mon foyer", "Mon foyer"),
    "carte": ("Ma carte", "Ma carte"),
    "cotisations": ("Mes cotisations", "Mes cotisations"),
    "dossiers": ("Mes dossiers", "Mes dossiers"),
    "reclamations/": ("Mes réclamations", "Mes réclamations"),
    "mes-donnees": ("Mes données", "Mes données"),
}
SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}
SYSTEM = Actor.system("bench")


def build(app) -> tuple[str, int, object, dict[str, str]]:
    """The mutual, its household and a complaint; returns the adhérent's number and id, the tenant and the
    pages reached from other pages (path → heading): the complaint form and the complaint's page."""
    with app.app_context():
        ministry = hierarchy.create_root(
            db.session, SYSTEM, code="MIN", details=NodeDetails(name="Ministère")
        )
        federation = hierarchy.create_child(
            db.session, SYSTEM, parent=ministry, code="FED", details=NodeDetails(name="Fédération")
        )
        league = hierarchy.create_child(
            db.session, SYSTEM, parent=federation, code="LIG", details=NodeDetails(name="Ligue")
        )
        association = hierarchy.create_child(
            db.session, SYSTEM, parent=league, code="ASS", details=NodeDetails(name="Association de Pikine")
        )
        association_id = association.id
        db.session.commit()
        tenant = create_tenant(
            owner_engine(app), SYSTEM, slug="pikine", name="Mutuelle de santé de Pikine", sector="artisanat",
            federation_code="FED",
        )  # fmt: skip
        with tenant_scope(db.session, tenant):
            session = db.session
            enrolled = dt.date(2025, 11, 1)
            principal = services.enrol(
                session, tenant, SYSTEM, association_id=association_id, sector="artisanat",
                person=PersonInput(last_name="Ndiaye", first_names="Fatou", sex="F", birth="12/03/1985",
                                   phone="771234567", trade="tailleur"),
                consent=ConsentInput(given_on=enrolled), enrolled_on=enrolled, today=TODAY,
                dependants=[
                    DependantInput(PersonInput(last_name="Ndiaye", first_names="Moussa", sex="M",
                                               birth="02/02/1980"), "spouse"),
                    DependantInput(PersonInput(last_name="Ndiaye", first_names="Awa", sex="F",
                                               birth="05/05/2016"), "child"),
                ],
            )  # fmt: skip
            product = Product(code="FAM", name="Produit famille", valid_from=dt.date(2026, 1, 1))
            session.add(product)
            session.flush()
            session.add(
                ProductVersion(
                    product_id=product.id, number=1, effective_from=dt.date(2026, 1, 1),
                    basis=Basis.per_household, amount=2000, periodicity=Periodicity.monthly, joining_fee=0,
                )
            )  # fmt: skip
            for index, (name, category) in enumerate(
                [
                    ("Consultation de médecine générale", BenefitCategory.consultation),
                    ("Hospitalisation (journée)", BenefitCategory.hospitalisation),
                    ("Accouchement simple", BenefitCategory.maternity),
                    ("Analyses de laboratoire", BenefitCategory.laboratory),
                    ("Radiographie", BenefitCategory.imaging),
                    ("Médicaments génériques", BenefitCategory.medicine),
                ]
            ):
                benefit = Benefit(code=f"B{index}", name=name, category=category)
                session.add(benefit)
                session.flush()
                session.add(
                    ProductBenefit(
                        product_id=product.id, benefit_id=benefit.id, rate_percent=80,
                        ceiling_per_beneficiary_year=50_000 + 10_000 * index,
                        ceiling_per_household_year=150_000,
                    )
                )  # fmt: skip
            session.flush()
            version_id = session.scalar(
                select(ProductVersion.id).where(ProductVersion.product_id == product.id)
            )
            subscription = Subscription(
                member_id=principal.id, product_id=product.id, start_date=dt.date(2026, 1, 1)
            )
            session.add(subscription)
            session.flush()
            for month in range(1, 7):
                start = dt.date(2026, month, 1)
                session.add(
                    Due(
                        subscription_id=subscription.id, member_id=principal.id, version_id=version_id,
                        period_start=start, period_end=dt.date(2026, month + 1, 1) - dt.timedelta(days=1),
                        due_date=start, amount=2000, member_amount=2000,
                    )
                )  # fmt: skip
            session.flush()
            payments.record_payment(session, tenant, SYSTEM, principal, amount=8000)
            complaint = file_complaint(
                session, tenant, member_actor_for(principal), principal, category="reception",
                text="On m'a fait attendre trois heures au poste de santé alors que ma carte était à jour.",
            )  # fmt: skip
            session.commit()
            inner = {
                "reclamations/nouvelle": "Nouvelle réclamation",
                f"reclamations/{complaint.public_id}": f"Réclamation {complaint.reference}",
            }
            return principal.number, principal.id, tenant, inner


def latest_code(app, tenant, member_id: int) -> str:
    with app.app_context(), tenant_scope(db.session, tenant):
        body = db.session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.event == "portal.sign_in_code")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


class Meter:
    """Bytes received by one page (CDP), from ``reset()`` on."""

    def __init__(self, page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.total, self.requests = 0, 0
        self.cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict) -> None:
        self.total += int(event.get("encodedDataLength", 0))
        self.requests += 1

    def reset(self) -> None:
        self.total, self.requests = 0, 0

    def settle(self, page) -> None:
        page.wait_for_load_state("networkidle")
        time.sleep(0.2)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, help="also save a phone screenshot of each page here")
    shots = parser.parse_args().screenshots

    app = fresh_app(
        "mbolo_bench_portal",
        MBOLO_TODAY=TODAY.isoformat(),
        MBOLO_SIGN_IN_RATE="1000 per minute",
        MBOLO_PORTAL_NUMBER_RATE="1000 per minute",
    )
    upgrade_all(owner_engine(app), report=lambda _s: None)
    number, member_id, tenant, inner = build(app)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/pikine/portail"
    rows: list[tuple[str, str, str, bool]] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        phone = {"viewport": {"width": 360, "height": 740}, "locale": "fr-SN", "is_mobile": True}

        def sign_in(context) -> None:
            page = context.new_page()
            page.goto(f"{base}/connexion")
            page.get_by_label("Numéro d'adhérent").fill(number)
            page.get_by_role("button", name="Continuer").click()
            page.get_by_label("Code reçu par SMS").fill(latest_code(app, tenant, member_id))
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_role("heading", name="Bonjour").wait_for()
            page.close()

        # First loads, empty cache: the sign-in page, then each page in a fresh context carrying the session.
        signed = browser.new_context(**phone)
        sign_in(signed)
        cookies = signed.cookies()
        readable = {**{path: heading for path, (_label, heading) in PAGES.items()}, **inner}
        first_loads = {"connexion": "Mon espace adhérent", **readable}
        for path, heading in first_loads.items():
            context = browser.new_context(**phone)
            if path != "connexion":
                context.add_cookies(cookies)
            page = context.new_page()
            meter = Meter(page)
            page.goto(f"{base}/{path}")
            page.get_by_role("heading", name=heading).first.wait_for()
            meter.settle(page)
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                name = path.strip("/").replace("/", "_") or "accueil"
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            kb = meter.total / 1024
            shown = re.sub(r"[0-9a-f]{32}", "<id>", path)  # the complaint's page
            rows.append((f"first load /{shown} ({meter.requests} req.)", f"{kb:.1f} KB",
                         f"≤ {FIRST_LOAD_KB:.0f} KB", kb <= FIRST_LOAD_KB))  # fmt: skip
            context.close()

        # htmx navigations: from the home page, each menu link in turn (assets cached, only <main> comes).
        page = signed.new_page()
        meter = Meter(page)
        page.goto(f"{base}/")
        meter.settle(page)
        for path, (label, heading) in list(PAGES.items())[1:] + [("", PAGES[""])]:
            meter.reset()
            page.get_by_role("navigation").get_by_role("link", name=label, exact=True).click()
            page.get_by_role("heading", name=heading).first.wait_for()
            meter.settle(page)
            assert page.url.rstrip("/").endswith(path.rstrip("/") or "portail"), page.url
            kb = meter.total / 1024
            rows.append((f"htmx navigation to /{path}", f"{kb:.1f} KB", f"≤ {HTMX_KB:.0f} KB", kb <= HTMX_KB))
        page.close()

        # Slow 3G, empty cache: time until usable.
        for path, what, ready in (
            ("connexion", "sign-in page", lambda p: p.get_by_label("Numéro d'adhérent").wait_for()),
            (
                "droits",
                "rights page",
                lambda p: p.get_by_role("heading", name="Mes droits aujourd'hui").wait_for(),
            ),
        ):
            timings = []
            for _run in range(SLOW_3G_RUNS):
                context = browser.new_context(**phone)
                if path != "connexion":
                    context.add_cookies(cookies)
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                cdp.send("Network.emulateNetworkConditions", SLOW_3G)
                started = time.perf_counter()
                page.goto(f"{base}/{path}", wait_until="load")  # drawn, stylesheet and deferred htmx in
                ready(page)
                timings.append(time.perf_counter() - started)
                context.close()
            seconds, worst = statistics.median(timings), max(timings)
            rows.append(
                (f"Slow 3G, {what} usable (median of {SLOW_3G_RUNS})", f"{seconds:.2f} s",
                 f"≤ {SLOW_3G_S:.0f} s", seconds <= SLOW_3G_S)
            )  # fmt: skip
            rows.append(
                (f"Slow 3G, {what} usable (worst of {SLOW_3G_RUNS})", f"{worst:.2f} s",
                 f"≤ {SLOW_3G_S:.0f} s", worst <= SLOW_3G_S)
            )  # fmt: skip

        # Without JavaScript: every reading page still reads.
        context = browser.new_context(**phone, java_script_enabled=False)
        context.add_cookies(cookies)
        page = context.new_page()
        working = 0
        for path, heading in readable.items():
            response = page.goto(f"{base}/{path}")
            if response is not None and response.ok and page.get_by_role("heading", name=heading).count():
                working += 1
        rows.append(
            (
                "pages readable without JavaScript",
                f"{working}/{len(readable)}",
                "all",
                working == len(readable),
            )
        )
        context.close()
        signed.close()
        browser.close()
    server.shutdown()

    print_table(rows)


if __name__ == "__main__":
    main()
