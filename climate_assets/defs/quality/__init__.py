"""Data quality: the asset checks the Glue jobs compute, and the freshness policies."""
