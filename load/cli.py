"""``iotbench load``: Locust against the running stack's dashboard, by hand or headless.

    iotbench load --ui                          Locust's web UI on 127.0.0.1:8089
    iotbench load --headless -u 20 -r 5 -t 60s  CSVs + HTML report into runs/load-<time>/
    iotbench load --headless -u 200 -t 2m --processes 2   Locust's distributed mode

It runs the venv's own ``locust`` console script on ``load/locustfile.py`` (found next to this
module, so any working directory will do); Locust's flags are Locust's.
Also ``python -m load.cli …`` with the same options.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def locust_executable() -> str:
    """The ``locust`` next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "locust"
    if beside.is_file():
        return str(beside)
    found = shutil.which("locust")
    if found is None:
        raise FileNotFoundError(f"no `locust` next to {sys.executable} or on PATH; "
                                "install the project (pip install -e .)")
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from system.config import Ports

    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ui", action="store_true", help="Locust's web UI (the default)")
    mode.add_argument("--headless", action="store_true", help="no UI; CSVs + HTML report")
    parser.add_argument("--host", default=None,
                        help="dashboard URL (default: the stack's, honouring "
                             "IOTBENCH_PORT_OFFSET)")
    parser.add_argument("-u", "--users", type=int, default=10, help="peak users (10)")
    parser.add_argument("-r", "--spawn-rate", type=float, default=2.0, help="users/s (2)")
    parser.add_argument("-t", "--run-time", default="60s", help="headless: 30s, 5m … (60s)")
    parser.add_argument("--out", default=None, help="headless: folder (runs/load-<time>/)")
    parser.add_argument("--processes", type=int, default=None,
                        help="Locust's distributed mode: N worker processes (-1 = one per CPU)")
    parser.add_argument("--web-host", default="127.0.0.1", help="UI address (127.0.0.1)")
    parser.add_argument("--web-port", type=int, default=Ports.from_env().locust_ui,
                        help="UI port (%(default)s; 8089 + IOTBENCH_PORT_OFFSET)")
    parser.add_argument("--shape", choices=["steps", "spike"], default=None,
                        help="a load shape from load/shapes.py (configured by "
                             "IOTBENCH_LOAD_* variables; overrides -u/-r/-t)")
    parser.add_argument("--refresh-s", type=float, default=None,
                        help="dashboard users' refresh period (15 s, as the page)")


def locust_command(args: argparse.Namespace, host: str, out: Path | None) -> list[str]:
    command = [locust_executable(), "-f", str(LOCUSTFILE), "--host", host,
               "-u", str(args.users), "-r", str(args.spawn_rate)]
    if args.processes:
        command += ["--processes", str(args.processes)]
    if out is not None:
        command += ["--headless", "-t", str(args.run_time), "--csv", str(out / "locust"),
                    "--csv-full-history", "--html", str(out / "locust_report.html"),
                    "--only-summary"]
    else:
        command += ["--web-host", args.web_host, "--web-port", str(args.web_port)]
    return command


def load_main(args: argparse.Namespace) -> int:
    from system.config import Endpoints

    host = (args.host or Endpoints().dashboard_url).rstrip("/")
    out = None
    if args.headless:
        out = Path(args.out or Path("runs") / f"load-{time.strftime('%Y%m%d-%H%M%S')}")
        out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.shape:
        env["IOTBENCH_LOAD_SHAPE"] = args.shape
    if args.refresh_s is not None:
        env["IOTBENCH_DASHBOARD_REFRESH_S"] = str(args.refresh_s)
    command = locust_command(args, host, out)
    if out is None:
        print(f"Locust UI: http://{args.web_host}:{args.web_port}  (target {host}); "
              "Ctrl-C to stop", flush=True)
    process = subprocess.Popen(command, env=env)
    try:
        code = process.wait()
    except KeyboardInterrupt:  # Locust stops on SIGINT too; give it time to write reports
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    if out is not None:
        print(f"Locust CSVs and report: {out}")
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iotbench load", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stop Locust the same way as Ctrl-C
    # Explicitly, too: started in the background by a shell without job control, SIGINT is
    # inherited as ignored — by Locust as well, which then never stops on our SIGINT. With a
    # handler here, Locust starts with SIGINT at its default (exec resets handlers).
    signal.signal(signal.SIGINT, _interrupt)
    return load_main(args)


if __name__ == "__main__":
    sys.exit(main())
