"""Notifications: the per-tenant outbox of SMS and e-mails and their delivery by Celery tasks. In the
embedded default the outbox itself is the channel (messages stay visible in the back office)."""
