"""Consolidated supervision: indicators computed per association and month inside each tenant, published as
snapshots in ``public`` and rolled up along the hierarchy; dashboards, alerts (and ``app.reports``)."""
