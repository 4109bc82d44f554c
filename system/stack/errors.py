"""The stack's errors: one root, each message says what happened and what to do."""

from __future__ import annotations


class StackError(Exception):
    """Root of every error raised by ``system.stack``."""


class SetupError(StackError):
    """A stack component could not be installed, built or started."""


class MissingPrerequisite(SetupError):
    """A tool the native stack needs (java, mvn, go, npm) is not on PATH."""


class ServiceError(StackError):
    """A service did not become healthy: carries the evidence.

    The message names the service, what was awaited and for how long, the process state,
    the last log lines and a ``Hint:`` line, like testcontainers' timeout errors.
    """

    def __init__(
        self,
        service: str,
        awaited: str,
        waited_s: float,
        state: str,
        log_tail: list[str],
        hint: str,
    ) -> None:
        self.service = service
        self.awaited = awaited
        self.waited_s = waited_s
        self.state = state
        self.log_tail = log_tail
        self.hint = hint
        tail = "\n".join(f"    {line}" for line in log_tail) or "    (log is empty)"
        super().__init__(
            f"{service}: {awaited} — gave up after {waited_s:.1f} s\n"
            f"  process: {state}\n"
            f"  last log lines:\n{tail}\n"
            f"Hint: {hint}"
        )


class PortBusy(StackError):
    """A port the stack must bind is already taken by another process."""

    def __init__(self, service: str, port: int, holder: str) -> None:
        self.service = service
        self.port = port
        super().__init__(
            f"{service}: port 127.0.0.1:{port} is already in use ({holder}).\n"
            f"Hint: stop what holds it (`iotbench stack down` if it is an earlier stack), "
            f"or move the stack with IOTBENCH_PORT_OFFSET=1000 or "
            f"IOTBENCH_PORT_<NAME>=<port>."
        )
