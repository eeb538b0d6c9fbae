"""Payment providers behind one interface (``base.PaymentProvider``): Sandbox (embedded default), Stripe,
Wave, Orange Money."""
