"""Care: providers and conventions, eligibility at the counter, guarantee letters (helper "providers"); care
records, invoices, controls and payment batches (helper "claims"); medical control."""
