"""``climate-assets``: generate sample data, run the demo, open the Dagster UI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date

from .settings import PROJECT_ROOT, Settings

DEMO_LOCATIONS = 25
DEMO_DAYS = 14
DEMO_START = "2024-07-01"
DEMO_SEED = 7


def _generate(args: argparse.Namespace) -> int:
    from .generate import generate_landing_zone

    settings = Settings.from_env()
    root = args.lake_root or settings.lake_root
    generated = generate_landing_zone(
        root,
        locations=args.locations,
        days=args.days,
        start=date.fromisoformat(args.start),
        seed=args.seed,
    )
    print(
        f"Wrote {len(generated.files)} files under {generated.root}/raw for {generated.days[0]} .. {generated.days[-1]}"
    )
    for dataset, rows in generated.rows.items():
        print(f"  {dataset:<10} {rows:>10,} rows")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import dagster as dg

    from .demo import ensure_landing_zone, run_whole_graph, summary
    from .instance import instance_environment

    settings = Settings.from_env()
    start = date.fromisoformat(args.start)
    days = ensure_landing_zone(settings, args.locations, args.days, start, args.seed)
    os.environ.update(instance_environment())
    print(f"Materializing the whole graph for {days[0]} .. {days[-1]} (one run, one Spark session)")
    with dg.DagsterInstance.get() as instance:
        outcome = run_whole_graph(settings, instance, days[0], days[-1])
    print(summary(settings, outcome, days[0], days[-1]))
    return 0 if outcome.success else 1


def _upload(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .environments import local_resources
    from .upload import UploadError, upload

    lake = local_resources(Settings.from_env())["lake"].open()
    try:
        keys = upload(lake, Path(args.file), args.dataset)
    except (UploadError, OSError) as exc:
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {len(keys)} file(s) into the landing zone of {lake.root}:")
    for key in keys:
        print(f"  {key}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from .instance import instance_environment, server_admin_dsn

    server_admin_dsn(Settings.from_env())  # start the embedded server; it stays up while we run
    env = {**os.environ, **instance_environment()}
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [sys.executable, "-m", "dagster", "dev", "-w", workspace, *args.dagster_args]
    print(
        "Starting the Dagster webserver and daemon on this project's instance: "
        + " ".join(command[2:])
    )
    return subprocess.call(command, env=env, cwd=PROJECT_ROOT)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="climate-assets", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate", help="write a sample landing zone (raw CSVs) into the lake"
    )
    generate.add_argument("--locations", type=int, default=DEMO_LOCATIONS)
    generate.add_argument("--days", type=int, default=DEMO_DAYS)
    generate.add_argument("--start", default=DEMO_START, help="first day, YYYY-MM-DD")
    generate.add_argument("--seed", type=int, default=DEMO_SEED)
    generate.add_argument(
        "--lake-root", help="defaults to CLIMATE_LAKE_ROOT or the project's state folder"
    )
    generate.set_defaults(handler=_generate)

    demo = commands.add_parser(
        "demo", help="generate data if none, materialize the whole graph, summarize"
    )
    demo.add_argument("--locations", type=int, default=DEMO_LOCATIONS)
    demo.add_argument("--days", type=int, default=DEMO_DAYS)
    demo.add_argument("--start", default=DEMO_START)
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.set_defaults(handler=_demo)

    upload = commands.add_parser(
        "upload", help="put a CSV into the landing zone (a multi-day file is split by date)"
    )
    upload.add_argument("file", help="a CSV file")
    upload.add_argument("--dataset", required=True, help="locations, climate, health or hospital")
    upload.set_defaults(handler=_upload)

    dev = commands.add_parser(
        "dev", help="run `dagster dev` (webserver + daemon) against this project's instance"
    )
    dev.epilog = "Other options (e.g. -p 3001) are passed on to `dagster dev`."
    dev.set_defaults(handler=_dev)
    return root


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args, extra = cli.parse_known_args(argv)
    if extra and args.command != "dev":
        cli.error(f"unrecognized arguments: {' '.join(extra)}")
    args.dagster_args = extra
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
