"""Contributions (tenant schema): subscriptions, dues per period, payments and their allocation to dues,
forecasts and balances, subsidies as receivables."""
