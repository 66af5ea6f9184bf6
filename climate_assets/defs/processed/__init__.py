"""Processed datasets: each raw dataset cleaned by its Glue job into lake Parquet and PostgreSQL."""
