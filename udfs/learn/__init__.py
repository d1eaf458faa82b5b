"""Per-entity learning: algorithms, model documents, store, champion/challenger."""
