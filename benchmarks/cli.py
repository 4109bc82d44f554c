"""``iotbench``: one command line for setting up, running and reporting.

Each sub-command imports what it needs only when it runs, so ``iotbench --help`` is instant.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

EPILOG = """\
typical use:
  iotbench setup                      install Kafka, Spark connector, Toxiproxy, FerretDB (once)
  iotbench quickstart                 the main job: a 2-minute scenario that ends in a report
  iotbench run scenarios/baseline.yaml  one scenario → runs/<run-id>/ (journal, data, report)
  iotbench report runs/<run-id>       rebuild the report from the raw files
  iotbench stack up --partitions 4    start the native stack and leave it running
  iotbench stack status               what runs where
  iotbench stack down [--purge]       stop it (and delete its data)

environment:
  IOTBENCH_CACHE        downloads and builds (default ~/.cache/iotbench)
  IOTBENCH_STATE        stack data, logs and state file (default ./.iotbench)
  IOTBENCH_PORT_OFFSET  shift every port (run a second stack beside the first)
"""

EXIT_BAD_INPUT = 2
"""What ``validate`` returns for an invalid file; run, sweep and capacity return it too."""


def stop_signals_interrupt() -> None:
    """Treat SIGTERM like Ctrl-C so every command cleans up the same way — and SIGINT too,
    explicitly: a command started in the background by a shell without job control (a CI
    runner, ``make test &``) inherits SIGINT as ignored, and Python then never raises
    KeyboardInterrupt for it (the producer and the processor handle both signals likewise)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# ---------------------------------------------------------------- commands

def cmd_setup(args: argparse.Namespace) -> int:
    from system.config import cache_dir
    from system.stack.setup import setup

    cache = cache_dir()
    print(f"iotbench setup → {cache}")
    setup(cache)
    print("setup complete; a second run downloads nothing.")
    return 0


def _stack_config(args: argparse.Namespace):
    from system.stack.native import StackConfig

    return StackConfig(partitions=args.partitions, workers=args.workers,
                       worker_cores=args.worker_cores, worker_memory=args.worker_memory,
                       dashboard=not args.no_dashboard, mongo=args.mongo,
                       brokers=args.brokers, replication_factor=args.replication_factor,
                       min_insync_replicas=args.min_insync_replicas,
                       unclean_leader_election=args.unclean_leader_election)


def cmd_stack_up(args: argparse.Namespace) -> int:
    from system.stack.native import NativeStack

    if args.provider == "docker":
        from system.stack.docker import DockerStack
        from system.stack.errors import StackError

        if args.mongo not in ("auto", "mongod"):
            raise StackError(f"--mongo {args.mongo} needs the native provider (the docker "
                             "stack runs a real mongod).")
        if args.brokers != 1:
            raise StackError("--brokers 3 needs the native provider (the compose file runs "
                             "one broker).")
        DockerStack(_stack_config(args)).up()
        return 0
    stack = NativeStack(_stack_config(args))
    state = stack.up()
    _print_urls(state.urls)
    print(f"cold start: {state.cold_start_s:.1f} s; per service (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in state.healthy_after_s.items()))
    print(f"state: {stack.home / 'state.json'}   logs: {stack.home / 'logs'}")
    return 0


def cmd_stack_status(args: argparse.Namespace) -> int:
    from system.stack.status import print_status

    return print_status(topic=args.topic)


def cmd_stack_down(args: argparse.Namespace) -> int:
    from system.stack.native import NativeStack
    from system.stack.state import StackState

    stack = NativeStack()
    if StackState.load(stack.home) is None:
        print(f"no stack state in {stack.home}; nothing to stop")
    for line in stack.down(purge=args.purge):
        print(line)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    """The main job: the quickstart scenario, end to end, ending in its report."""
    from benchmarks.runner import run_file

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"
    print(f"quickstart: running {scenario} (about 2 minutes)")
    return run_file(scenario, Path(args.runs))


def cmd_smoke(args: argparse.Namespace) -> int:
    """Bring the stack up, prove each service with its real client, stop."""
    from system.stack import smoke
    from system.stack.native import NativeStack, StackConfig

    config = StackConfig(partitions=2, workers=1)
    with NativeStack(config) as stack:
        state = stack.state
        assert state is not None
        _print_urls(state.urls)
        print("proving each service with its real client:")
        checks = smoke.run_all(stack.endpoints, stack.links, config.topic, config.workers,
                               config.dashboard)
        print(f"cold start {state.cold_start_s:.1f} s; stopping the stack")
    failed = [c.service for c in checks if not c.ok]
    print("smoke: " + ("all services proven" if not failed else f"FAILED: {failed}"))
    return 1 if failed else 0


def _refuse_invalid(file: str) -> bool:
    """True (problems printed) when the scenario file is missing or invalid: checked before
    anything starts, so bad input costs no stack and shows no traceback."""
    from benchmarks.validate import refuse_invalid

    return refuse_invalid(Path(file))


def cmd_run(args: argparse.Namespace) -> int:
    if _refuse_invalid(args.file):
        return EXIT_BAD_INPUT
    from benchmarks.runner import run_file

    return run_file(Path(args.file), Path(args.runs))


def cmd_sweep(args: argparse.Namespace) -> int:
    if _refuse_invalid(args.file):
        return EXIT_BAD_INPUT
    from benchmarks.sweep import sweep_file

    return sweep_file(Path(args.file), Path(args.sweeps))


def cmd_capacity(args: argparse.Namespace) -> int:
    if _refuse_invalid(args.file):
        return EXIT_BAD_INPUT
    from benchmarks.sweep import capacity_file

    return capacity_file(Path(args.file), Path(args.sweeps), start_eps=args.start,
                         max_eps=args.max, precision=args.precision,
                         repetitions=args.repetitions)


def cmd_ceilings(args: argparse.Namespace) -> int:
    from benchmarks.ceilings import ceilings_main

    return ceilings_main(Path(args.out))


def cmd_produce(args: argparse.Namespace) -> int:
    from system.producer.cli import produce_main

    return produce_main(args)


def cmd_report(args: argparse.Namespace) -> int:
    from reports import report_main

    return report_main(Path(args.dir))


def cmd_compare(args: argparse.Namespace) -> int:
    from reports import compare_main

    return compare_main(Path(args.a), Path(args.b))


def cmd_load(args: argparse.Namespace) -> int:
    from load.cli import load_main

    return load_main(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from benchmarks.validate import validate_files

    return validate_files([Path(p) for p in args.files])


def _print_urls(urls: dict[str, str]) -> None:
    width = max(len(k) for k in urls)
    for name, url in urls.items():
        print(f"  {name:<{width}}  {url}")


# ---------------------------------------------------------------- parser

def _add_stack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--partitions", type=int, default=2, help="partitions of iot-data (2)")
    p.add_argument("--workers", type=int, default=1, help="Spark workers (1)")
    p.add_argument("--worker-cores", type=int, default=1, help="cores per worker (1)")
    p.add_argument("--worker-memory", default="1g", help="memory per worker (1g)")
    p.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    p.add_argument("--mongo", default="auto",
                   choices=["auto", "ferretdb-sqlite", "ferretdb-postgres", "mongod"],
                   help="MongoDB-wire server: FerretDB on SQLite or on a private PostgreSQL, "
                   "or a real mongod from PATH (auto: mongod if on PATH, else ferretdb-postgres "
                   "when PostgreSQL is installed and can reach the state folder, else "
                   "ferretdb-sqlite)")
    p.add_argument("--provider", choices=["native", "docker"], default="native",
                   help="native processes (default) or docker compose via testcontainers")
    p.add_argument("--brokers", type=int, default=1, choices=[1, 3],
                   help="Kafka brokers: 1 (default) or 3 (replicated KRaft, native only)")
    p.add_argument("--replication-factor", type=int, default=None,
                   help="of the topic (default: the number of brokers)")
    p.add_argument("--min-insync-replicas", type=int, default=None,
                   help="of the topic (default: 1 with one broker, 2 with three)")
    p.add_argument("--unclean-leader-election", action="store_true",
                   help="let an out-of-sync replica become leader (loses acked writes)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iotbench", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Benchmark and chaos harness around a real Kafka → Spark → MongoDB → "
                    "Flask IoT pipeline.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str,
            **kw: object) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, **kw)  # type: ignore[arg-type]
        p.set_defaults(func=func)
        return p

    add("setup", cmd_setup, "install the native stack's components into the cache (idempotent)")
    quick = add("quickstart", cmd_quickstart,
                "the main job: run scenarios/quickstart.yaml end to end and write its report")
    quick.add_argument("--runs", default="runs", help="where run folders go (runs/)")
    add("smoke", cmd_smoke, "bring the stack up, prove each service with its client, stop")
    run = add("run", cmd_run, "run one scenario: stack, processor, producer, faults, report")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--runs", default="runs", help="where run folders go (runs/)")
    sweep = add("sweep", cmd_sweep, "run every matrix point × repetitions into one sweep folder")
    sweep.add_argument("file", metavar="FILE")
    sweep.add_argument("--sweeps", default="sweeps", help="where sweep folders go (sweeps/)")
    cap = add("capacity", cmd_capacity,
              "find the highest sustainable producer rate (doubling, then bisection)")
    cap.add_argument("file", metavar="FILE")
    cap.add_argument("--sweeps", default="sweeps", help="where sweep folders go (sweeps/)")
    cap.add_argument("--start", type=float, default=None,
                     help="first rate to probe (default: the scenario's rate)")
    cap.add_argument("--max", type=float, default=50_000, help="stop doubling here")
    cap.add_argument("--repetitions", type=int, default=3,
                     help="probes per rate; a rate passes only if every one passes (3)")
    cap.add_argument("--precision", type=float, default=0.1,
                     help="bisect until the bracket is within this share of the rate (0.1)")
    ceil = add("ceilings", cmd_ceilings, "each component's standalone ceiling, on one stack")
    ceil.add_argument("--out", default="runs/ceilings", help="output folder (runs/ceilings)")
    produce = add("produce", cmd_produce, "send simulated device events to Kafka (+ ledger)")
    from system.producer.cli import add_arguments as add_produce_arguments

    add_produce_arguments(produce)
    report = add("report", cmd_report, "rebuild a run's (or sweep's) report from its raw files")
    report.add_argument("dir", metavar="DIR")
    compare = add("compare", cmd_compare, "two runs or sweeps side by side; flags regressions")
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")

    stack = sub.add_parser("stack", help="start, inspect or stop the stack")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True, metavar="ACTION")
    up = stack_sub.add_parser("up", help="start every service and wait until healthy")
    _add_stack_options(up)
    up.set_defaults(func=cmd_stack_up)
    status = stack_sub.add_parser("status", help="each service, its health, ports and URLs; "
                                  "Kafka's brokers, controller, leaders and ISRs")
    status.add_argument("--topic", default=None,
                        help="whose partitions to show (default: the stack's topic)")
    status.set_defaults(func=cmd_stack_status)
    down = stack_sub.add_parser("down", help="stop everything (graceful, then forced)")
    down.add_argument("--purge", action="store_true", help="also delete the stack's data")
    down.set_defaults(func=cmd_stack_down)

    from load.cli import add_arguments as add_load_arguments

    add_load_arguments(add("load", cmd_load,
                           "Locust on the dashboard API: its web UI, or headless with CSVs"))
    validate = add("validate", cmd_validate, "check scenario files; report every problem")
    validate.add_argument("files", nargs="+", metavar="FILE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop_signals_interrupt()
    from system.stack.errors import StackError

    try:
        return int(args.func(args) or 0)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `iotbench stack status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
