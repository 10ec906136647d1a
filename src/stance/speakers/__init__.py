"""Speaker attribution: who speaks in each sentence (rules, a mapping of names, a learned model)."""
