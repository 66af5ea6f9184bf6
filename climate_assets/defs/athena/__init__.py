"""Athena tables over the lake Parquet (DuckDB views on the embedded default)."""
