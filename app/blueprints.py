"""The product's table of contents: every blueprint, one line each."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.security.account_views import bp as account
    from app.security.admin_views import accounts_bp, profiles_bp, security_bp
    from app.security.views import bp as security
    from app.web.views import bp as web
    from hierarchy.views import bp as hierarchy
    from tenants.views import admin_bp as tenants_admin
    from tenants.views import site_bp as tenant_site

    app.register_blueprint(web)  # /, /healthz, /readyz, /langue, vendored htmx
    app.register_blueprint(security)  # /connexion, /deconnexion, invitation links, step-up confirmation
    app.register_blueprint(account, url_prefix="/compte")  # own preferences, password, TOTP, sessions
    app.register_blueprint(accounts_bp, url_prefix="/admin/comptes")
    app.register_blueprint(profiles_bp, url_prefix="/admin/profils")
    app.register_blueprint(security_bp, url_prefix="/admin/securite")
    app.register_blueprint(hierarchy, url_prefix="/hierarchie")
    app.register_blueprint(tenants_admin, url_prefix="/admin/mutuelles")
    from app.members.views import bp as members

    app.register_blueprint(members, url_prefix="/<tenant_slug>/adherents")  # register, enrolment, member page
    from app.members.card_views import bp as member_cards

    app.register_blueprint(member_cards, url_prefix="/<tenant_slug>")  # cards, photos, my data, /verify
    from app.care import fhir_eligibility  # noqa: F401 - care API routes, before the API blueprint registers
    from app.care.letter_views import bp as care_letters
    from app.care.provider_views import bp as care_providers
    from app.care.provider_views import counter_bp as care_counter

    app.register_blueprint(care_providers, url_prefix="/<tenant_slug>/prestataires")  # register, conventions
    app.register_blueprint(care_counter, url_prefix="/<tenant_slug>/guichet")  # eligibility at the counter
    app.register_blueprint(care_letters, url_prefix="/<tenant_slug>/lettres")  # guarantee letters, QR check
    from app.care.control_views import bp as care_control

    app.register_blueprint(care_control, url_prefix="/<tenant_slug>/controle-medical")  # search, signals
    from app.care.invoice_views import bp as care_invoices

    app.register_blueprint(care_invoices, url_prefix="/<tenant_slug>/soins")  # invoices, review, batches
    from app.api.blueprint import bp as api

    app.register_blueprint(api, url_prefix="/api/v1")  # JSON API: OAuth 2 token, OpenAPI document, members
    from app.members.import_views import bp as member_imports

    app.register_blueprint(member_imports, url_prefix="/<tenant_slug>/imports")  # register imports, progress
    from app.coverage.rights_views import bp as rights

    app.register_blueprint(rights, url_prefix="/<tenant_slug>/droits")  # a beneficiary's rights on a day, why
    from app.contributions.views import bp as contributions

    app.register_blueprint(contributions, url_prefix="/<tenant_slug>/cotisations")  # accounts, cash, receipts
    from app.coverage.views import bp as coverage

    app.register_blueprint(coverage, url_prefix="/<tenant_slug>/produits")  # products, tariffs, catalogue
    from app.contributions.report_views import bp as contribution_reports

    app.register_blueprint(contribution_reports, url_prefix="/<tenant_slug>/cotisations/rapports")  # forecast
    from payments.views import bp as payments

    app.register_blueprint(payments, url_prefix="/<tenant_slug>")  # webhooks, sandbox phone, pay links
    from payments.staff_views import bp as payments_staff

    app.register_blueprint(payments_staff, url_prefix="/<tenant_slug>/paiements/en-ligne")  # list, refunds
    from payments.admin_views import bp as payments_admin

    app.register_blueprint(payments_admin, url_prefix="/<tenant_slug>/paiements/reglages")  # accounts
    from portal.views import bp as portal

    app.register_blueprint(portal, url_prefix="/<tenant_slug>/portail")  # the member portal (phone first)
    from app.complaints.views import bp as complaints
    from portal.complaints import bp as portal_complaints

    app.register_blueprint(complaints, url_prefix="/<tenant_slug>/reclamations")  # queue, SLAs, counter
    app.register_blueprint(portal_complaints, url_prefix="/<tenant_slug>/portail/reclamations")  # their own
    from notifications.views import bp as notifications
    from notifications.views import receipts_bp as notification_receipts
    from notifications.views import staff_bp as staff_messages

    app.register_blueprint(notifications, url_prefix="/<tenant_slug>/boite-envoi")  # outbox, detail, resend
    app.register_blueprint(staff_messages, url_prefix="/admin/messages-personnel")  # messages to staff
    app.register_blueprint(notification_receipts)  # /notifications/sms/accuse/<slug>: signed SMS receipts
    from app.reports.views import bp as reports
    from hierarchy.supervision.views import bp as supervision

    app.register_blueprint(supervision, url_prefix="/supervision")  # dashboards, alerts, targets (snapshots)
    app.register_blueprint(reports, url_prefix="/supervision/rapports")  # quarterly reports, archive
    app.register_blueprint(tenant_site, url_prefix="/<tenant_slug>")  # last: the catch-all prefix
