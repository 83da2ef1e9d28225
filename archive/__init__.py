"""Ground floor: models, the SQLite store, capture rules, statistics and transcripts."""
