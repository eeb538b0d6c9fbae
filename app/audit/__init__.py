"""The audit log (``public.audit_events``): one row per state change, written by services in the same
transaction as the change. The runtime roles may insert and read it, never update or delete."""
