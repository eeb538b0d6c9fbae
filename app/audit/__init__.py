"""The audit log: HMAC-linked chains of events — platform events in ``public.audit_events``, a tenant's in
its own schema's ``audit_events`` — written in the transaction of the change they record. Request roles may
insert and read audit rows, never update or delete them; ``mbolo audit verify`` checks every chain."""
