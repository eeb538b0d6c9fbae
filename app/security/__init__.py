"""Staff accounts, sign-in, grants and the permission registry (``@requires``). The security issue adds
editable profiles, step-up MFA and lockout on top of this."""
