"""Tenants: the registry of mutuals, their schema and role provisioning, request → tenant resolution and the
per-transaction tenant context. Owns ``public.tenants``; knows nothing of members or contributions."""
