"""Coverage (tenant schema): products and their tariff versions, the benefits catalogue, what each product
covers, and the rights of a beneficiary on a date — with the reason."""
