"""The organisation tree: ministère → fédération → ligue → association (``public.hierarchy_nodes``), its
rules (001_… §2: who creates whom), its history, and subtree scoping. Tenants hang under fédérations."""
