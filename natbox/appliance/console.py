"""The serial console driver (pexpect): log in, set a unique prompt, silence the kernel, and
run commands returning (output, exit_code). The only one: the appliance tests, the boot bench
and the image test (tests/image/conftest.py) all drive QEMU's stdio through it, spawned from
the command line natbox.appliance.qemu builds.

Designed against the usual console pains: kernel messages interleaving with output
(`dmesg -n 1` after login), the shell echoing the command (markers are written split with
quotes, so only the command's own output can match them), login races (the login prompt is
re-provoked with a newline until it shows), and slow hosts (every timeout is multiplied by
NATBOX_TIMEOUT_SCALE).
"""

from __future__ import annotations

import os
import re
import secrets

import pexpect

LOGIN_PROMPT = r"login: "
# ash asks the terminal for the cursor position (ESC [6n) right after its prompt.
SHELL_PROMPT = r"[#$] (\x1b\[6n)?"


def scale() -> float:
    return float(os.environ.get("NATBOX_TIMEOUT_SCALE", "1"))


class ConsoleError(RuntimeError):
    pass


class Console:
    def __init__(self, child: pexpect.spawn, transcript=None):
        self.child = child
        if transcript is not None:
            child.logfile_read = transcript
        self.prompt = f"NBX{secrets.token_hex(3)}# "

    def expect(self, pattern, timeout: float) -> int:
        try:
            return self.child.expect(pattern, timeout=timeout * scale())
        except pexpect.TIMEOUT:
            raise ConsoleError(f"no {pattern!r} within {timeout * scale():.0f} s") from None
        except pexpect.EOF:
            raise ConsoleError(f"console closed while waiting for {pattern!r}") from None

    def wait_login_prompt(self, timeout: float = 60) -> None:
        self.expect(LOGIN_PROMPT, timeout)

    def login(self, user: str = "root", password: str = "natbox", timeout: float = 60) -> None:
        """From a login prompt (or a logged-in shell) to our prompt."""
        self.child.sendline("")
        what = self.expect([LOGIN_PROMPT, SHELL_PROMPT], timeout)
        if what == 1:  # a shell is already there (a test left it logged in)
            self.child.sendline("exit")
            self.expect(LOGIN_PROMPT, timeout)
        self.child.sendline(user)
        if self.expect([r"Password: ", SHELL_PROMPT], 15) == 0:
            self.child.sendline(password)
            if self.expect([SHELL_PROMPT, "Login incorrect"], 15) == 1:
                raise ConsoleError(f"login as {user} refused")
        # Our own prompt, written split so its echo cannot be mistaken for it.
        head, tail = self.prompt[:3], self.prompt[3:]
        self.child.sendline(f"PS1='{head}''{tail}'; export PS1; dmesg -n 1; stty -echo")
        self.expect(re.escape(self.prompt), 15)

    def run(self, command: str, timeout: float = 30) -> tuple[str, int]:
        token = secrets.token_hex(4)
        start, end = f"S{token}S", f"E{token}E"
        # '{start[:3]}''{start[3:]}' prints START but the echoed line never contains it.
        self.child.sendline(
            f"echo '{start[:3]}''{start[3:]}'; {command}\necho '{end[:3]}''{end[3:]}' $?"
        )
        self.expect(re.escape(start) + r"\r*\n", timeout)
        self.expect(re.escape(end) + r" (\d+)\r*\n", timeout)
        output = self.child.before.decode(errors="replace").replace("\r", "")
        code = int(self.child.match.group(1))
        # Drop a prompt printed between the two lines of our input.
        output = output.replace(self.prompt, "")
        self.expect(re.escape(self.prompt), 10)
        return output.strip("\n"), code

    def check(self, command: str, timeout: float = 30) -> str:
        output, code = self.run(command, timeout)
        if code:
            raise ConsoleError(f"{command!r} exited {code}: {output}")
        return output
