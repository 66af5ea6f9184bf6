"""Assets by layer: processed (raw -> lake + PostgreSQL), curated (derived metrics), athena."""
