"""Helpers for the netns tests."""

from __future__ import annotations

import json
import subprocess
import sys

from natbox.lab.lab import Lab
from natbox.lab.netns import exec_args


class Listener:
    """`probe listen` running in the background inside a namespace."""

    def __init__(self, lab: Lab, ns: str, proto: str, port: int, timeout: float = 5.0):
        command = exec_args(
            ns,
            sys.executable,
            "-m",
            "natbox.lab.probe",
            "listen",
            proto,
            str(port),
            "--timeout",
            str(timeout),
        )
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert json.loads(self.process.stdout.readline())["listening"]

    def result(self) -> dict:
        out, _ = self.process.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])
