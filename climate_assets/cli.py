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
    from .instance import prepare_instance

    settings = Settings.from_env()
    days = ensure_landing_zone(
        settings, args.locations, args.days, date.fromisoformat(args.start), args.seed
    )
    environment = prepare_instance(settings)
    environment.apply()
    print(f"Materializing the whole graph for {days[0]} .. {days[-1]} (one run, one Spark session)")
    with dg.DagsterInstance.get() as instance:
        outcome = run_whole_graph(settings, instance, days[0], days[-1])
    print(summary(settings, outcome, days[0], days[-1]))
    return 0 if outcome.success else 1


def _dev(args: argparse.Namespace) -> int:
    from .instance import prepare_instance

    settings = Settings.from_env()
    environment = prepare_instance(settings)  # keeps the embedded server up while dagster dev runs
    env = {**os.environ, **environment.variables}
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        *args.dagster_args,
    ]
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

    dev = commands.add_parser(
        "dev", help="run `dagster dev` (webserver + daemon) against this project's instance"
    )
    dev.add_argument("dagster_args", nargs=argparse.REMAINDER, help="passed on to `dagster dev`")
    dev.set_defaults(handler=_dev)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
