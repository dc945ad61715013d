"""The fault scenarios: every way an update can go wrong, each run against the booted
appliance and ending with what the device shows: the slot it booted, the version it runs,
both slots' states as fw_printenv prints them, whether the configuration survived, and the
update journal's story.

A scenario is a name, a group, what is expected and a function that does the damage. The
scenarios of a group run in order on one appliance (each starts where the one before left
it); the groups are independent (natbox.faults.matrix runs them side by side). To add one:
write its function (usually a call to ``cut``: the point, and the command that gets the
device there) and add a ``Scenario`` to ``SCENARIOS`` with its expectation.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from natbox.appliance.driver import Appliance, DriverError
from natbox.faults import badfiles
from natbox.faults import disk as disk_faults

OLD, NEW = "0.1.0", "0.2.0"
VARIANTS = ("health-fails", "panic-at-boot", "hang-at-boot", "never-commit")
HOSTNAME = "fault-box"  # the configuration mark every scenario expects to survive
# The trial watchdog's margin on the appliances here (seconds; 60 by default): the time from
# the router's start to its health check's (fed while the check runs: trialwatch), so a
# firmware that hangs before it, or has none, is reset sooner.
TRIAL_WATCHDOG = 20
API_PASSWORD = "fault-Matrix-7"
JOURNAL = "/data/natbox/update/journal.json"
CONFIG = "/data/natbox/config.json"


@dataclass
class Expect:
    slot: str
    version: str
    states: dict[str, str]  # slot -> state (as fw_printenv shows SLOT_x_STATE)
    journal: str  # the journal's last state, or "unchanged"
    config: str = "kept"  # kept | factory | old | new (the hostname the saved config holds)
    says: str = ""  # a phrase the journal's reason or last detail must contain


@dataclass
class Outcome:
    scenario: str
    group: str
    expected: str
    observed: str
    ok: bool
    slot: str = ""
    version: str = ""
    states: dict[str, str] = field(default_factory=dict)
    config_kept: bool = False
    story: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    seconds: float = 0.0
    bricked: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class Rig:
    """One appliance, the firmware files served to it, and the reading of its state."""

    def __init__(self, box: Appliance, server: str, files: dict[str, Path],
                 checks: dict[str, str]):  # fmt: skip
        """``files``: name -> file under the server's files/; ``checks``: bad-file kind ->
        the check that must refuse it."""
        self.box, self.server, self.files, self.checks = box, server, files, checks
        self.evidence: dict = {}

    # -- doing --------------------------------------------------------------------------------

    def sh(self, command: str, timeout: float = 120) -> str:
        return self.box.console.check(command, timeout)

    def send(self, command: str) -> Callable[[], None]:
        """A command typed on the console without waiting for it (the power will go)."""
        return lambda: self.box.console.child.sendline(command)

    def server_install(self, which: str = "new", force: bool = False) -> str:
        flag = " --force" if force else ""
        return f"routerctl firmware server-install {self.server}{which}/{flag}"

    def file_install(self, name: str, force: bool = False) -> str:
        url = f"{self.server}files/{name}"
        flag = " --force" if force else ""
        return (f"wget -q -O /tmp/fw {shlex.quote(url)} && routerctl firmware install /tmp/fw"
                f"{flag}; r=$?; rm -f /tmp/fw; [ $r = 0 ]")  # fmt: skip

    def cut(self, triggers, command: str, timeout: float = 300) -> None:
        cut = self.box.cut_at(triggers, self.send(command), timeout=timeout)
        self.evidence["cut at"] = [str(p) for p in cut.points]
        self.evidence["boots between"] = cut.boots

    def api(self):
        """The REST API, logged in (a factory-fresh device first gets its new password)."""
        from natbox.hil.api import admin_session

        return admin_session(self.box.session.ui_url, API_PASSWORD)

    # -- reading ------------------------------------------------------------------------------

    def journal(self) -> dict:
        text = self.sh(f"cat {JOURNAL} 2>/dev/null || true")
        try:
            return json.loads(text) if text.strip() else {"state": "idle", "history": []}
        except ValueError:
            return {"state": "unreadable", "history": []}

    def printenv(self) -> dict[str, str]:
        out = self.sh("fw_printenv")
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def running(self) -> tuple[str, str]:
        cmdline = self.sh("cat /proc/cmdline")
        slot = [w.split("=", 1)[1] for w in cmdline.split() if w.startswith("natbox.slot=")]
        return (slot[0] if slot else "?"), self.sh("cat /etc/natbox/version").strip()

    def hostname(self) -> str:
        text = self.sh(f"cat {CONFIG} 2>/dev/null || true")
        try:
            return str(json.loads(text).get("hostname", ""))
        except ValueError:
            return "(unreadable)"

    def settled(self, timeout: float = 150) -> dict:
        """The journal once a trial has its verdict (the health check runs after boot)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.journal()
            if record.get("state") not in ("installed", "trial") or time.monotonic() > deadline:
                return record
            time.sleep(2)


# -- the scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    group: str
    expect: Expect
    run: Callable[[Rig], None]
    what: str = ""


def _cut_before_switch(point: str) -> Callable[[Rig], None]:
    return lambda rig: rig.cut(point, rig.server_install("new"))


def _cut_after_switch(points, which: str, force: bool) -> Callable[[Rig], None]:
    return lambda rig: rig.cut(points, rig.server_install(which, force))


def _retry(rig: Rig) -> None:
    """The update the scenario before cut short, tried again (its upload and its slot write
    start over)."""
    rig.evidence["first try"] = rig.journal().get("reason", "")
    rig.box.console.child.sendline(rig.server_install("new"))
    rig.box.expect_reboot(timeout=300)


def _config_save(point: str, name: str) -> Callable[[Rig], None]:
    def run(rig: Rig) -> None:
        rig.sh(f"routerctl hostname {HOSTNAME} && routerctl save", 60)
        rig.cut(point, f"routerctl hostname {name} && routerctl save")

    return run


def _variant(variant: str, cut: str | list[str] | None = None) -> Callable[[Rig], None]:
    """Install the variant and follow its attempts back to A (``cut``: and cut the power at
    that point of them on the way)."""

    def run(rig: Rig) -> None:
        rig.box.console.child.sendline(rig.server_install(variant))
        if cut is None:
            rig.evidence["booted"] = rig.box.follow_reboots("A", timeout=400, most=6)
            return
        done = rig.box.cut_at(cut, timeout=600, until_slot="A")
        rig.evidence["cut at"] = [str(p) for p in done.points]
        rig.evidence["booted"] = done.boots

    return run


def _bad_file(kind: str) -> Callable[[Rig], None]:
    def run(rig: Rig) -> None:
        before, slot_before = rig.printenv(), _slot_digest(rig, "B")
        name = rig.files[f"bad-{kind}"].name
        url = shlex.quote(f"{rig.server}files/{name}")
        out, code = rig.box.console.run(
            f"wget -q -O /tmp/fw {url} && routerctl firmware check /tmp/fw; r=$?; rm -f /tmp/fw;"
            " [ $r = 0 ]", 180)  # fmt: skip
        rig.evidence["routerctl"] = [line for line in out.splitlines() if "FAIL" in line]
        rig.evidence["exit"] = code
        rig.evidence["check"] = rig.checks[kind]
        # The same file through the REST API (what the web UI's Firmware page shows).
        answer = rig.api().call("POST", "/firmware/upload", timeout=180,
                                data=rig.files[f"bad-{kind}"].read_bytes())  # fmt: skip
        verdict = answer.data.get("verdict") or {}
        checks = verdict.get("checks") or {}
        rig.evidence["api"] = {
            "status": answer.status,
            "valid": verdict.get("valid"),
            "failed": [n for n, c in checks.items() if c["status"] == "fail"],
        }
        rig.evidence["slot B unchanged"] = _slot_digest(rig, "B") == slot_before
        rig.evidence["env unchanged"] = rig.printenv() == before

    return run


def _slot_digest(rig: Rig, slot: str) -> str:
    """The slot's bytes on the disk (the host's file; the guest writes through to it)."""
    import hashlib

    from router.update.layout import BY_NAME

    part = BY_NAME[slot]
    with open(rig.box.session.disk, "rb") as f:
        f.seek(part.offset)
        return hashlib.sha256(f.read(part.size)).hexdigest()


def _downgrade(rig: Rig) -> None:
    out, code = rig.box.console.run(rig.file_install(rig.files[OLD].name), 180)
    rig.evidence["routerctl"] = [line for line in out.splitlines() if "FAIL" in line]
    rig.evidence["exit"] = code


def _power_off_fault(fault: str) -> Callable[[Rig], None]:
    def run(rig: Rig) -> None:
        rig.sh(f"routerctl hostname {HOSTNAME} && routerctl save", 60)
        rig.box.power_off()
        rig.evidence["fault"] = disk_faults.FAULTS[fault](rig.box.session.disk)
        rig.box.boot()
        rig.evidence["bootloader"] = [
            line for line in rig.box.transcript.getvalue().decode(errors="replace").splitlines()
            if "bootloader:" in line
        ][-3:]  # fmt: skip
        copies = disk_faults.env_copies_good(rig.box.session.disk)
        rig.evidence["env copies good"] = copies
        if fault == "config":
            rig.evidence["log"] = rig.sh("logread | grep 'configuration refused' || true")

    return run


def _cuts_before_switch() -> list[Scenario]:
    unchanged = Expect("A", OLD, {"A": "good"}, "unchanged")
    interrupted = {
        "verified": "verified", "begin-write:between-copies": "verified", "write@1M": "writing",
        "write@12M": "writing", "write@23M": "writing", "written": "writing",
        "read-back": "writing", "config-kept": "writing",
    }  # fmt: skip
    out = [
        Scenario(f"cut {p}", "cuts-before-switch", unchanged, _cut_before_switch(p),
                 "the upload cut short: nothing recorded, the partial file removed")
        for p in ("upload@12M", "uploaded")
    ]  # fmt: skip
    for point, state in interrupted.items():
        expect = Expect("A", OLD, {"A": "good", "B": "empty"}, "failed",
                        says=f"interrupted while {state}")  # fmt: skip
        out.append(Scenario(f"cut {point}", "cuts-before-switch", expect,
                            _cut_before_switch(point)))  # fmt: skip
    out.append(
        Scenario(
            "interrupted, then retried",
            "cuts-before-switch",
            Expect("B", NEW, {"A": "good", "B": "good"}, "committed"),
            _retry,
            "the update cut at config-kept, started again: it goes through",
        )
    )
    return out


def _cuts_after_switch() -> list[Scenario]:
    group = "cuts-after-switch"
    b_new = Expect("B", NEW, {"A": "good", "B": "good"}, "committed")
    a_old = Expect("A", OLD, {"A": "good", "B": "good"}, "committed")
    on_b = {"A": "good", "B": "good"}
    return [
        Scenario("cut switch:between-copies", group, b_new,
                 _cut_after_switch("switch:between-copies", "new", False),
                 "the switch reached one copy, the newer: the update goes on"),
        Scenario("cut installed, committed", group, a_old,
                 _cut_after_switch(["installed", "committed"], "old", True),
                 "a forced downgrade back to A: cut before its reboot, and after its commit"),
        Scenario("cut trial-boot, healthy, mark-good:between-copies", group, b_new,
                 _cut_after_switch(["trial-boot", "healthy", "mark-good:between-copies"],
                                   "new", False),
                 "three cuts in the new slot's first boots, one per attempt"),
        Scenario("cut save:config.json:written", group,
                 Expect("B", NEW, on_b, "committed", config="old"),
                 _config_save("save:config.json:written", "new-name"),
                 "a configuration save: the new file written, not yet renamed"),
        Scenario("cut save:config.json:done", group,
                 Expect("B", NEW, on_b, "committed", config="new"),
                 _config_save("save:config.json:done", "new-name"),
                 "a configuration save: renamed and the directory fsynced"),
        Scenario("downgrade without force", group,
                 Expect("B", NEW, on_b, "failed", config="new", says="refused"), _downgrade,
                 f"{OLD} offered to {NEW}: refused"),
    ]  # fmt: skip


def _bad_files() -> list[Scenario]:
    out = []
    for kind in badfiles.KINDS:
        expect = Expect("A", OLD, {"A": "good"}, "failed", says="refused")
        out.append(Scenario(f"bad file {kind}", "variants", expect, _bad_file(kind),
                            "refused by its check before anything is written"))  # fmt: skip
    return out


def _variants() -> list[Scenario]:
    back = Expect("A", OLD, {"A": "good", "B": "bad"}, "rolled back")
    within = f"{NEW} built as %s: back to A within the attempts"
    # The two only the trial watchdog ends spend most of their time waiting: a group (an
    # appliance) of their own, beside the others.
    return [
        Scenario("variant health-fails, cut trial-boot, trial-boot@2", "variants", back,
                 _variant("health-fails", cut=["trial-boot", "trial-boot@2"]),
                 within % "health-fails" + " (power cuts in its first two attempts' boots)"),
        Scenario("variant panic-at-boot, cut mark-bad:between-copies", "variants", back,
                 _variant("panic-at-boot", cut="mark-bad:between-copies"),
                 within % "panic-at-boot" + " (a power cut while A marks B bad)"),
        Scenario("variant hang-at-boot, cut trial-boot, trial-boot@2", "watchdog", back,
                 _variant("hang-at-boot", cut=["trial-boot", "trial-boot@2"]),
                 within % "hang-at-boot" + " (power cuts in its first two attempts' boots, "
                 "the trial watchdog resets the third)"),
        Scenario("variant never-commit, cut trial-boot", "watchdog", back,
                 _variant("never-commit", cut="trial-boot"),
                 within % "never-commit" + " (a power cut in its first attempt's boot)"),
    ]  # fmt: skip


def _disk_faults() -> list[Scenario]:
    group = "variants"  # after the bad files, before the variants, on one appliance
    return [
        Scenario("env copy 0 corrupted", group, Expect("A", OLD, {"A": "good"}, "unchanged"),
                 _power_off_fault("env-copy-0"), "copy 1 is used; copy 0 is written again"),
        Scenario("both env copies corrupted", group,
                 Expect("A", OLD, {"A": "good", "B": "good"}, "unchanged"),
                 _power_off_fault("env-both"),
                 "the default environment: A first, and B, which holds the last variant's "
                 "firmware, good again (it has no memory)"),
        Scenario("saved config corrupted", group,
                 Expect("A", OLD, {"A": "good"}, "unchanged", config="factory"),
                 _power_off_fault("config"), "factory defaults, with a log line"),
    ]  # fmt: skip


SCENARIOS: list[Scenario] = (
    _cuts_before_switch()
    + _cuts_after_switch()
    + _bad_files()
    + [s for s in _variants() if s.group == "variants"]
    + _disk_faults()  # last on its appliance: the corrupted config brings factory defaults
    + [s for s in _variants() if s.group == "watchdog"]
)
GROUPS = tuple(dict.fromkeys(s.group for s in SCENARIOS))
# The order the groups start in: the one that mostly waits first, then the longest.
RUN_ORDER = ("watchdog", "cuts-before-switch", "cuts-after-switch", "variants")


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)


# -- running one --------------------------------------------------------------------------------


def run(scenario: Scenario, rig: Rig) -> Outcome:
    started = time.monotonic()
    rig.evidence = {}
    before = rig.journal()
    since = len(before.get("history", []))
    expect = scenario.expect
    outcome = Outcome(scenario.name, scenario.group, describe(expect), "", False)
    try:
        scenario.run(rig)
        record = rig.settled()
    except (DriverError, OSError, RuntimeError) as error:
        outcome.observed = f"the device did not come back: {error}"
        outcome.bricked = not _boots(rig)
        outcome.problems = [outcome.observed]
        outcome.seconds = time.monotonic() - started
        return outcome
    outcome.slot, outcome.version = rig.running()
    env = rig.printenv()
    outcome.states = {s: env.get(f"SLOT_{s}_STATE", "") for s in ("A", "B")}
    outcome.story = [h.get("state", "?") for h in record.get("history", [])[since:]]
    hostname = rig.hostname()
    wanted_name = {"kept": HOSTNAME, "factory": "natbox", "old": HOSTNAME, "new": "new-name"}
    outcome.config_kept = hostname == wanted_name[expect.config]
    last = record.get("history", [{}])[-1] if record.get("history") else {}
    outcome.evidence = dict(rig.evidence) | {
        "journal": record.get("state"), "reason": record.get("reason", ""),
        "last": last.get("detail", ""), "hostname": hostname,
        "env": {k: v for k, v in env.items() if k.startswith(("BOOT_", "SLOT_"))},
    }  # fmt: skip
    problems = []
    if (outcome.slot, outcome.version) != (expect.slot, expect.version):
        problems.append(f"runs {outcome.version} from {outcome.slot}")
    for slot, state in expect.states.items():
        if outcome.states.get(slot) != state:
            problems.append(f"slot {slot} is {outcome.states.get(slot)!r}, not {state}")
    journal = record.get("state")
    if expect.journal == "unchanged":
        if outcome.story:
            problems.append(f"the journal moved: {outcome.story}")
    elif journal != expect.journal:
        problems.append(f"journal {journal!r}, not {expect.journal}")
    if expect.says and expect.says not in f"{record.get('reason', '')} {last.get('detail', '')}":
        problems.append(f"the journal does not say {expect.says!r}")
    if not outcome.config_kept:
        problems.append(f"hostname {hostname!r}, not {wanted_name[expect.config]!r}")
    problems += _evidence_problems(scenario, rig.evidence)
    outcome.problems = problems
    outcome.ok = not problems
    outcome.observed = (
        f"{outcome.slot} {outcome.version}; A {outcome.states['A']}, B {outcome.states['B']}; "
        f"journal {journal}" + (f" ({', '.join(outcome.story)})" if outcome.story else "")
    )
    outcome.seconds = time.monotonic() - started
    return outcome


def _evidence_problems(scenario: Scenario, evidence: dict) -> list[str]:
    problems = []
    if scenario.name.startswith("bad file"):
        check = evidence.get("check", "?")
        if evidence.get("exit") == 0:
            problems.append("routerctl check accepted it")
        if not any(check in line for line in evidence.get("routerctl", [])):
            problems.append(f"routerctl does not name the check {check!r}")
        if not evidence.get("env unchanged"):
            problems.append("the environment changed")
        if not evidence.get("slot B unchanged"):
            problems.append("slot B was written")
        api = evidence.get("api", {})
        if api.get("valid") is not False or check not in api.get("failed", []):
            problems.append(f"the API does not refuse it by {check!r}: {api}")
    if scenario.name.startswith("env copy") and evidence.get("env copies good") != [True, True]:
        problems.append(f"environment copies after boot: {evidence.get('env copies good')}")
    if scenario.name == "saved config corrupted" and "refused" not in evidence.get("log", ""):
        problems.append("no log line about the refused configuration")
    booted = evidence.get("booted") or []
    if scenario.name.startswith("variant ") and (
        booted[:3] != ["B"] * 3 or not booted[3:] or set(booted[3:]) != {"A"}
    ):
        problems.append(f"booted {booted}, not B three times (the attempts), then A")
    if scenario.name == "downgrade without force":
        if evidence.get("exit") == 0:
            problems.append("the downgrade was accepted")
        if not any("version" in line for line in evidence.get("routerctl", [])):
            problems.append("routerctl does not name the version check")
    return problems


def _boots(rig: Rig) -> bool:
    """After a failure: can the device still boot a good firmware? (Not: bricked.)"""
    try:
        rig.box.reboot()
        return rig.box.healthy()
    except Exception:  # any failure to come back is the answer
        return False


def describe(expect: Expect) -> str:
    states = ", ".join(f"{s} {st}" for s, st in expect.states.items())
    return f"{expect.slot} {expect.version}; {states}; journal {expect.journal}"
