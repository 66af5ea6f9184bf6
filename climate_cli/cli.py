"""climate-assets: generate sample data, run the demo, open the Dagster UI."""

from __future__ import annotations

import argparse
import atexit
import gc
import logging
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from climate_assets.resources.embedded_postgres import start_embedded_server_early
from climate_assets.settings import ENV_AWS, Settings
from climate_cli.bytecode import compile_ahead

DEMO_LOCATIONS = 25
DEMO_DAYS = 14
DEMO_START = "2024-07-01"
DEMO_SEED = 7
DEBUG_HELP = "show the Python traceback of a failure (as CLIMATE_DEBUG=1 does)"
# The cyclic garbage collector's thresholds in a command's process. A command imports Dagster
# and its dependencies (about 180,000 objects that live as long as the process) and a run then
# makes many more; with Python's defaults (700, 10, 10) a one-day run of the whole graph makes
# about 700 collections, 0.65 of its 6 CPU seconds. With these, about 10, 0.2 s
# (bench/ANALYSIS.md). Cycles are still collected, after 50,000 allocations instead of 700.
GC_THRESHOLDS = (50_000, 20, 100)


def collect_garbage_less_often() -> None:
    """Set ``GC_THRESHOLDS`` for this process (a command, or the benchmark's run of one)."""
    gc.set_threshold(*GC_THRESHOLDS)


def exit_without_teardown() -> Callable[[int], int]:
    """End this process (a command, or the benchmark's run of one) as soon as its exit handlers
    have run, skipping the interpreter's teardown; returns the function that records the exit
    code to end with.

    After the exit handlers (pgserver's, which stops the embedded PostgreSQL, among them) Python
    frees every object one by one and runs the cyclic collector over them all: about 0.9 of the
    5 CPU seconds of a one-day run (bench/ANALYSIS.md), for memory the system takes back anyway.
    Nothing is left to write by then: files, DuckDB and PostgreSQL connections are closed by the
    code that opened them. The handler is registered now, so it runs after every handler
    registered later; ``logging``'s was registered earlier (at its import) and is called here.
    When no code was recorded (an exception escaped the command), Python ends as usual.
    """
    recorded: list[int] = []

    def end() -> None:
        if not recorded:
            return
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(recorded[0])

    atexit.register(end)

    def record(code: int) -> int:
        recorded.append(code)
        return code

    return record


def _generate(args: argparse.Namespace) -> int:
    from climate_cli.generate import generate_landing_zone

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
    settings = Settings.from_env()
    start_embedded_server_early(settings)  # before the imports, so that the two overlap
    compile_ahead()  # a new install's bytecode, on the other core meanwhile
    import dagster as dg

    from climate_assets.instance import instance_environment
    from climate_assets.job_specs import engine_for
    from climate_cli.demo import ensure_landing_zone, exit_code, run_whole_graph, summary

    start = date.fromisoformat(args.start)
    days = ensure_landing_zone(settings, args.locations, args.days, start, args.seed)
    os.environ.update(instance_environment())
    print(
        f"Materializing the whole graph for {days[0]} .. {days[-1]}"
        f" (one run, the {engine_for(settings)} engine)"
    )
    with dg.DagsterInstance.get() as instance:
        outcome = run_whole_graph(settings, instance, days[0], days[-1])
    print(summary(settings, outcome, days[0], days[-1]))
    return exit_code(outcome)


def _check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from climate_cli.check import run_checks

    lake = Path(args.lake_root) if args.lake_root else None
    state = Path(args.state_dir) if args.state_dir else None
    return run_checks(lake, state)


def _upload(args: argparse.Namespace) -> int:
    from pathlib import Path

    from climate_glue.lake import NotInLakeError

    from climate_assets.environments import resources_for
    from climate_cli.upload import UploadError, upload

    # The environment's lake (a folder, or S3 with CLIMATE_ENV=aws), its settings resolved.
    lake = resources_for(Settings.from_env())["lake"].process_config_and_initialize().open()
    try:
        keys = upload(lake, Path(args.file), args.dataset)
    except (UploadError, NotInLakeError) as exc:
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {len(keys)} file(s) into the landing zone of {lake.root}:")
    for key in keys:
        print(f"  {key}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from climate_cli.dev import run_dev

    return run_dev(Settings.from_env(), args.dagster_args)


def _deploy(args: argparse.Namespace) -> int:
    from climate_assets.defs.athena.assets import shared_table_specs, table_specs
    from climate_assets.settings import AwsSettings
    from climate_cli.deploy import DeployConfig, deploy

    settings = Settings.from_env()
    specs = [*table_specs(), *shared_table_specs()]
    databases = tuple(sorted({spec.database for spec in specs}))
    try:
        config = DeployConfig.from_settings(AwsSettings.from_env(), databases)
    except ValueError as exc:
        print(f"climate-assets deploy: {exc}", file=sys.stderr)
        return 2
    policy_dir = args.policy_dir or settings.state_dir / "iam"
    plan = deploy(config, dry_run=args.dry_run, policy_dir=policy_dir)
    print("Plan (dry run, nothing written to AWS):" if args.dry_run else "Deployed:")
    for line in plan.lines(args.dry_run):
        print(f"  {line}")
    return 0


def _env(args: argparse.Namespace) -> int:
    from climate_cli.env import env_command

    return env_command(args, print, lambda line: print(line, file=sys.stderr))


def _query(args: argparse.Namespace) -> int:
    from climate_assets.queries import named_queries

    queries = named_queries()
    if not args.name:
        for query in queries.values():
            print(f"{query.name:<36} {query.description}")
        return 0
    if args.name not in queries:
        print(
            f"no query named {args.name!r}; known: {', '.join(queries)}",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env()
    if not settings.athena_database.exists():
        print(
            f"no DuckDB views yet at {settings.athena_database}: run `climate-assets demo` first",
            file=sys.stderr,
        )
        return 1
    import duckdb

    with duckdb.connect(str(settings.athena_database), read_only=True) as con:
        cursor = con.execute(queries[args.name].sql)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    print("\t".join(columns))
    for row in rows:
        print("\t".join("" if v is None else str(v) for v in row))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    start_embedded_server_early(settings)  # before the imports, so that the two overlap
    import json

    import dagster as dg

    from climate_assets.instance import instance_environment
    from climate_cli.status import render, status

    os.environ.update(instance_environment())
    with dg.DagsterInstance.get() as instance:
        report = status(instance, settings, args.days)
    print(json.dumps(report.to_dict(), indent=2) if args.json else render(report))
    return 0


def _jobs(args: argparse.Namespace) -> int:
    import json

    from climate_cli.glue_jobs import as_dicts, glue_jobs, render

    settings = Settings.from_env()
    client = None
    if settings.environment == ENV_AWS:
        from climate_glue.aws import aws_client

        client = aws_client("glue", settings.aws.region)
    jobs = glue_jobs(settings, client)
    print(json.dumps(as_dicts(jobs), indent=2) if args.json else render(jobs))
    return 0


def _materialize(args: argparse.Namespace) -> int:
    start_embedded_server_early(Settings.from_env())  # before the imports, so that they overlap
    compile_ahead()  # a new install's bytecode, on the other core meanwhile
    from climate_cli.materialize import materialize_command

    return materialize_command(args, lambda line: print(line, flush=True))


def _export(args: argparse.Namespace) -> int:
    from climate_cli.export import ExportError, export

    try:
        written = export(
            Settings.from_env(),
            args.asset,
            date.fromisoformat(args.date_from),
            date.fromisoformat(args.date_to),
            args.format,
            Path(args.output),
            internal=args.internal,
        )
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(written.summary())
    return 0


# One function per subcommand: its arguments and handler, in the order `--help` lists them.
def _generate_command(commands) -> None:
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


def _demo_command(commands) -> None:
    demo = commands.add_parser(
        "demo", help="generate data if none, materialize the whole graph, summarize"
    )
    demo.add_argument("--locations", type=int, default=DEMO_LOCATIONS)
    demo.add_argument("--days", type=int, default=DEMO_DAYS)
    demo.add_argument("--start", default=DEMO_START)
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.set_defaults(handler=_demo)


def _check_command(commands) -> None:
    check = commands.add_parser(
        "check", help="run every asset check against a fixture landing zone; non-zero on failure"
    )
    check.add_argument(
        "--lake-root", help="a lake with a landing zone to check (default: generate a fixture)"
    )
    check.add_argument(
        "--state-dir", help="state folder for the check run (default: a new temporary folder)"
    )
    check.set_defaults(handler=_check)


def _upload_command(commands) -> None:
    upload = commands.add_parser(
        "upload", help="put a CSV into the landing zone (a multi-day file is split by date)"
    )
    upload.add_argument("file", help="a CSV file")
    upload.add_argument("--dataset", required=True, help="locations, climate, health or hospital")
    upload.set_defaults(handler=_upload)


def _dev_command(commands) -> None:
    dev = commands.add_parser(
        "dev", help="run `dg dev` (webserver + daemon) on this project's instance; Ctrl-C stops it"
    )
    dev.epilog = "Other options (e.g. -p 3001) are passed on to `dg dev`."
    dev.set_defaults(handler=_dev)


def _deploy_command(commands) -> None:
    deploy = commands.add_parser(
        "deploy",
        help="upload the Glue scripts and create or update the Glue jobs on AWS; write IAM policies",
    )
    deploy.add_argument(
        "--dry-run", action="store_true", help="print the plan; write nothing to AWS"
    )
    deploy.add_argument(
        "--policy-dir", type=Path, help="where to write the IAM policies (default .climate/iam/)"
    )
    deploy.set_defaults(handler=_deploy)


def _env_command(commands) -> None:
    env = commands.add_parser(
        "env",
        help="print `export CLIMATE_...=...` lines from the outputs of an environment's stack",
    )
    env.epilog = 'Use as: eval "$(climate-assets env --stack NAME)"'
    env.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    env.add_argument("--region", help="the stack's region (default: AWS_REGION or the profile's)")
    env.set_defaults(handler=_env)


def _query_command(commands) -> None:
    query = commands.add_parser(
        "query", help="run a named query against the local DuckDB views (no NAME: list them)"
    )
    query.add_argument("name", nargs="?")
    query.set_defaults(handler=_query)


def _status_command(commands) -> None:
    status = commands.add_parser(
        "status", help="each Glue job's runs, what runs now, partitions to fix, and alarms"
    )
    status.add_argument("--json", action="store_true", help="the same as JSON")
    status.add_argument(
        "--days", type=int, default=14, help="dated partitions of the last N days (default 14)"
    )
    status.set_defaults(handler=_status)


def _jobs_command(commands) -> None:
    jobs = commands.add_parser("jobs", help="list the Glue jobs: assets, script, engine, size")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(handler=_jobs)


def _materialize_command(commands) -> None:
    materialize = commands.add_parser(
        "materialize",
        help="launch a run of the graph (or --select assets) for a range of days: through the "
        "daemon's queue when `climate-assets dev` runs, else in this process",
    )
    materialize.add_argument(
        "--select", help="comma-separated asset keys (default: the whole graph)"
    )
    materialize.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    materialize.add_argument("--to", dest="date_to", help="last day (default: --from)")
    materialize.add_argument(
        "--in-process", action="store_true", help="run here even when a daemon is running"
    )
    materialize.add_argument(
        "--url", help="the webserver of `climate-assets dev` (default http://127.0.0.1:3000)"
    )
    materialize.add_argument(
        "--no-wait", action="store_true", help="queued: return once the run is submitted"
    )
    materialize.add_argument(
        "--accept",
        help="accept held judgement checks for this run: asset:check[@YYYY-MM-DD],... "
        "(row_count, reject_rate; contract section 5)",
    )
    materialize.add_argument("--reason", help="why the accepted days are right (recorded)")
    materialize.set_defaults(handler=_materialize)


def _export_command(commands) -> None:
    export = commands.add_parser(
        "export", help="write one file of a curated or processed asset for a range of days"
    )
    export.add_argument("asset", help="e.g. health_risks, resilience_scores, climate_data")
    export.add_argument("--from", dest="date_from", required=True)
    export.add_argument("--to", dest="date_to", required=True)
    export.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    export.add_argument("-o", "--output", required=True, help="the file to write")
    export.add_argument(
        "--internal",
        action="store_true",
        help="keep small counts (only for assets whose contract allows internal use)",
    )
    export.set_defaults(handler=_export)


SUBCOMMANDS = (
    _generate_command,
    _demo_command,
    _check_command,
    _upload_command,
    _dev_command,
    _deploy_command,
    _env_command,
    _query_command,
    _status_command,
    _jobs_command,
    _materialize_command,
    _export_command,
)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="climate-assets", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(commands)
    root.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    for command in commands.choices.values():
        # SUPPRESS: `climate-assets --debug demo` keeps the root's value.
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return root


def run_command(args: argparse.Namespace) -> int:
    """Every command, in one handler: an exception that escapes it is one line on stderr (what
    failed, where, what to do) and exit code 3; the traceback only with --debug/CLIMATE_DEBUG."""
    import traceback

    from climate_assets.settings import ENV_DEBUG, debug_requested
    from climate_cli.errors import EXIT_COULD_NOT_RUN, failure_line

    if args.debug:
        os.environ[ENV_DEBUG] = "1"  # for the run's console logger and child processes
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"climate-assets {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug_requested():
            traceback.print_exc()
        print(failure_line(args.command, exc), file=sys.stderr)
        return EXIT_COULD_NOT_RUN


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args, extra = cli.parse_known_args(argv)
    if extra and args.command != "dev":
        cli.error(f"unrecognized arguments: {' '.join(extra)}")
    args.dagster_args = extra
    return run_command(args)


def console() -> int:
    """The ``climate-assets`` command: ``main`` in a process of its own."""
    collect_garbage_less_often()
    ends_with = exit_without_teardown()
    return ends_with(main())


if __name__ == "__main__":
    sys.exit(console())
