"""Members of a mutual (tenant schema): adhérents and their ayants droit, numbers, cards, consent, imports."""
