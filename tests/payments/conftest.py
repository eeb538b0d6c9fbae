"""The contributions tests' fixtures (fixed business day, recorded rights hook, tenant alpha's session)."""

from tests.app.contributions.test_payments import alpha, business_date, rights_refreshed  # noqa: F401
