"""Online payments: providers, state machine, webhooks, reconciliation (the payments issue fills it)."""
