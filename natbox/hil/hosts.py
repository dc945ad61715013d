"""The machines around the router: LAN clients and the internet host, each a network namespace
of the lab. A test runs commands there, starts background programs (each with its log, kept
with the test's other evidence) and opens pexpect sessions; what it started is stopped when
the test ends."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from natbox.lab import netns


@dataclass
class Background:
    """A program a test started on a host; its output goes to ``log``."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 3.0) -> int | None:
        """TERM to its process group, KILL after ``timeout``; returns its exit code."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(timeout)
        return self.process.returncode


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # started in a session of its own
        os.killpg(process.pid, sig)


@dataclass
class Host:
    """``name``: what a test calls it (lan1, internet); ``namespace``: where it runs;
    ``address``: its IPv4 address (``addresses``: all of them, the internet host has three)."""

    name: str
    namespace: str
    address: str
    addresses: tuple[str, ...] = ()
    logs: Path = field(default_factory=lambda: Path("."))  # the current test's evidence folder
    started: list[Background] = field(default_factory=list)

    def argv(self, command: str | list[str] | tuple[str, ...]) -> list[str]:
        """A command for this host: a string runs under ``sh -c``, a list as it is."""
        words = ["sh", "-c", command] if isinstance(command, str) else list(command)
        return netns.exec_args(self.namespace, *words)

    def run(self, command: str | list[str], check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:  # fmt: skip
        """Run to completion; output captured as text. ``check``: a non-zero exit raises
        CalledProcessError (its output in the message)."""
        result = subprocess.run(self.argv(command), capture_output=True, text=True,
                                timeout=timeout, input=input)  # fmt: skip
        if check and result.returncode:
            raise subprocess.CalledProcessError(
                result.returncode, _shown(command), result.stdout, result.stderr
            )
        return result

    def ping(self, address: str, count: int = 3, wait: float = 2.0) -> bool:
        """``count`` echo requests to ``address``, a fifth of a second apart; True when
        every one was answered within ``wait`` seconds."""
        result = self.run(["ping", "-c", str(count), "-i", "0.2", "-W", str(wait), address],
                          check=False, timeout=count + wait + 10)  # fmt: skip
        return result.returncode == 0

    def start(self, command: str | list[str], name: str | None = None) -> Background:
        """Start in the background, output to ``<name>.log`` in the test's folder; stopped
        (its process group) when the test ends."""
        name = name or _log_name(command)
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{self.name}-{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                self.argv(command), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        background = Background(name, process, log_path)
        self.started.append(background)
        return background

    def session(self, command: str | list[str], timeout: float = 30, name: str | None = None):
        """A pexpect session (bytes) whose output is also logged to the test's folder."""
        import pexpect

        argv = self.argv(command)
        self.logs.mkdir(parents=True, exist_ok=True)
        child = pexpect.spawn(argv[0], argv[1:], timeout=timeout)
        log_path = self.logs / f"{self.name}-{name or _log_name(command)}.session.log"
        log = open(log_path, "ab")  # noqa: SIM115 (open as long as the session runs)
        child.logfile_read = log
        self.started.append(Background(name or "session", _PexpectProcess(child, log),
                                       Path(log.name)))  # fmt: skip
        return child

    def begin(self, logs: Path) -> int:
        """A test begins: its logs go to ``logs``; returns the mark ``stop_started`` takes."""
        self.logs = logs
        return len(self.started)

    def stop_started(self, since: int = 0) -> None:
        """Stop what was started after the mark (a test's own; a wider fixture's stay)."""
        while len(self.started) > since:
            self.started.pop().stop()


class _PexpectProcess:
    """A pexpect child as ``Background`` stops it."""

    def __init__(self, child, log):
        self.child, self.log, self.pid = child, log, child.pid

    def poll(self) -> int | None:
        return None if self.child.isalive() else (self.child.exitstatus or 0)

    def wait(self, timeout: float) -> int | None:
        self.child.close(force=True)
        self.log.close()
        return self.child.exitstatus

    @property
    def returncode(self) -> int | None:
        return self.child.exitstatus


def _shown(command: str | list[str]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def _log_name(command: str | list[str]) -> str:
    word = (command.split() or ["sh"])[0] if isinstance(command, str) else command[0]
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in os.path.basename(word))
