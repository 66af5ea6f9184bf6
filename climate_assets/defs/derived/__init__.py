"""Curated metrics: health_risks, hospital_resources and resilience_scores, from one Glue job."""
