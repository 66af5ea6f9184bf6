"""Glue job `process-locations`: raw/locations -> processed/locations (lake Parquet and PostgreSQL)."""

import sys

from climate_glue.contract import LOCATIONS
from climate_glue.jobs import process_dataset
from climate_glue.runtime import run_job


def main(argv: list[str]) -> None:
    with run_job(argv) as job:
        process_dataset(job, LOCATIONS)


if __name__ == "__main__":
    main(sys.argv[1:])
