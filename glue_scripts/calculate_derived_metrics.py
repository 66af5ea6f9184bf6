"""Glue job `calculate-derived-metrics`: processed climate, health and hospital data -> health_risks, hospital_resources, resilience_scores (curated Parquet, CSV and JSON exports, PostgreSQL)."""

import sys

from climate_glue.jobs import calculate_derived_metrics
from climate_glue.runtime import run_job


def main(argv: list[str]) -> None:
    with run_job(argv) as job:
        calculate_derived_metrics(job)


if __name__ == "__main__":
    main(sys.argv[1:])
