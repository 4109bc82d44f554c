"""``iotbench validate FILE...``: check scenario files, report every problem, start nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from benchmarks.scenario.model import ScenarioError, load_scenario

EXIT_OK = 0
EXIT_INVALID = 2


def print_problems(path: Path, error: ScenarioError, out: TextIO) -> None:
    """``INVALID <file>: N problems`` and one indented line per problem."""
    count = len(error.issues)
    print(f"INVALID {path}: {count} problem{'s' if count != 1 else ''}", file=out)
    for issue in error.issues:
        print(f"  {issue}", file=out)


def refuse_invalid(path: Path, out: TextIO = sys.stderr) -> bool:
    """For commands that would start a stack: print the file's problems exactly as
    ``validate`` does and return True when it is missing or invalid (start nothing then)."""
    try:
        load_scenario(path)
    except ScenarioError as error:
        print_problems(path, error, out)
        return True
    return False


def validate_files(paths: list[Path], out: TextIO = sys.stdout) -> int:
    """Print ``OK <file>: …`` or every issue of each file; 0 if all are valid, else 2."""
    invalid = 0
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            invalid += 1
            print_problems(path, error, out)
            continue
        points, faults = scenario.matrix_points(), len(scenario.faults)
        print(
            f"OK {path}: {scenario.name} ({points} matrix points × {scenario.repetitions} "
            f"repetitions, {faults} faults)",
            file=out,
        )
        for note in scenario.notes():
            print(f"  note: {note}", file=out)
    if len(paths) > 1:
        print(f"{len(paths) - invalid} of {len(paths)} files valid", file=out)
    return EXIT_INVALID if invalid else EXIT_OK
