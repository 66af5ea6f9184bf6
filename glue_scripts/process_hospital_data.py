"""Glue job `process-hospital-data`: raw/hospital -> processed/hospital_data, for a range of days."""

import sys

from climate_glue.contract import HOSPITAL
from climate_glue.jobs import process_dataset
from climate_glue.runtime import run_job


def main(argv: list[str]) -> None:
    with run_job(argv) as job:
        process_dataset(job, HOSPITAL)


if __name__ == "__main__":
    main(sys.argv[1:])
