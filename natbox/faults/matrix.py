"""The fault matrix: the firmware the scenarios need built (once; unchanged builds are
skipped), the bad files made from the new one, one appliance per scenario group (its own disk
and lab, the groups side by side), every scenario run in its group's order, and the report:
a table (scenario | expected | observed | booted slot | version | config kept) and JSON.
`natbox fault matrix` and the vm test tests/appliance/test_fault_matrix.py both run this."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from natbox.faults import badfiles
from natbox.faults import scenarios as S

SERVER_PORT = 8000


@dataclass
class Firmware:
    served: Path  # new/ and old/ (each with its latest.json) and files/
    files: dict[str, Path]  # name -> file in files/ (OLD, NEW, the variants, bad-<kind>)
    checks: dict[str, str]  # bad-file kind -> the check that must refuse it


def build_firmware(tree: Path, workdir: Path, log: Callable[[str], None] = print) -> Firmware:
    """The old and new firmware, their update server directories and the bad files made from
    the new one: what every group needs. The test variants come after (``add_variants``)."""
    from natbox.firmware.cli import write_manifest
    from natbox.firmware.keys import load_or_create_dev_key

    built = {
        S.OLD: _build(tree, S.OLD, None, None, log),
        S.NEW: _build(tree, S.NEW, S.NEW, None, log),
    }
    served = workdir / "served"
    shutil.rmtree(served, ignore_errors=True)
    # An update server directory each (its latest.json): the device streams what it installs
    # straight from there, as from a real server.
    for name, which in ((S.NEW, "new"), (S.OLD, "old")):
        (served / which).mkdir(parents=True)
        shutil.copyfile(built[name], served / which / built[name].name)
        write_manifest(served / which, log)
    (served / "files").mkdir()
    files: dict[str, Path] = {}
    for name, path in built.items():
        files[name] = served / "files" / path.name
        shutil.copyfile(path, files[name])
    key, _ = load_or_create_dev_key(tree / "keys")
    checks = {}
    for kind, bad in badfiles.make_all(built[S.NEW].read_bytes(), key).items():
        files[f"bad-{kind}"] = served / "files" / f"bad-{kind}.fw"
        files[f"bad-{kind}"].write_bytes(bad.data)
        checks[kind] = bad.check
    return Firmware(served, files, checks)


def add_variant(firmware: Firmware, tree: Path, variant: str,
                log: Callable[[str], None] = print) -> None:  # fmt: skip
    """A test firmware variant (natbox.faults.scenarios.VARIANTS) built and served."""
    from natbox.firmware.cli import write_manifest

    path = _build(tree, variant, S.NEW, variant, log)
    (firmware.served / variant).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, firmware.served / variant / path.name)
    write_manifest(firmware.served / variant, log)
    shutil.copyfile(path, firmware.served / "files" / path.name)
    firmware.files[variant] = firmware.served / "files" / path.name


def _build(tree: Path, name: str, version: str | None, fault: str | None,
           log: Callable[[str], None]) -> Path:  # fmt: skip
    from natbox.imagebuild.build import make_build

    started = time.monotonic()
    build = make_build(tree, quiet=True, version=version, test_fault=fault)
    build.run()
    log(f"fault matrix: firmware {name}: {build.firmware_path.name} "
        f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    return build.firmware_path


def variants_of(scenarios: Iterable[S.Scenario]) -> list[str]:
    """The test variants these scenarios install (named in the scenario: "variant X, ...")."""
    scenarios = list(scenarios)  # read once per variant: a generator would be spent at once
    return [v for v in S.VARIANTS if any(s.name.startswith(f"variant {v},") for s in scenarios)]


def run_group(group: str, chosen: list[S.Scenario], firmware: Firmware, workdir: Path,
              tree: Path, log: Callable[[str], None]) -> list[S.Outcome]:  # fmt: skip
    from natbox.appliance.driver import Appliance
    from router.update.trialwatch import MARGIN_VARIABLE

    outcomes: list[S.Outcome] = []
    box = Appliance(workdir / group, env={MARGIN_VARIABLE: str(S.TRIAL_WATCHDOG)}, tree=tree,
                    build=False)  # fmt: skip
    try:
        server = box.lab.serve_firmware(str(firmware.served), SERVER_PORT)
        rig = S.Rig(box, server, firmware.files, firmware.checks)
        rig.sh(f"routerctl hostname {S.HOSTNAME} && routerctl save")  # 120 s: CI loads the host
        for scenario in chosen:
            log(f"fault matrix: {group}: {scenario.name} ...")
            outcome = S.run(scenario, rig)
            log(f"fault matrix: {group}: {scenario.name}: {'ok' if outcome.ok else 'FAILED'} "
                f"({outcome.seconds:.0f} s) {outcome.observed}")  # fmt: skip
            outcomes.append(outcome)
            if outcome.bricked:
                break  # nothing more can run on this device
    finally:
        keep = workdir / group / "console.log"
        keep.write_bytes(box.transcript.getvalue())
        box.close()
    return outcomes


def run(tree: Path, workdir: Path, names: Iterable[str] | None = None, jobs: int = 2,
        log: Callable[[str], None] = print) -> tuple[list[S.Outcome], float]:  # fmt: skip
    """Every scenario (or those ``names``), its groups ``jobs`` at a time. Returns the outcomes
    in SCENARIOS' order and the wall time."""
    started = time.monotonic()
    wanted = set(names) if names is not None else None
    chosen = [s for s in S.SCENARIOS if wanted is None or s.name in wanted]
    workdir.mkdir(parents=True, exist_ok=True)
    firmware = build_firmware(tree, workdir, log)
    groups = [g for g in S.RUN_ORDER if any(s.group == g for s in chosen)]
    results: dict[str, list[S.Outcome]] = {}
    errors: dict[str, BaseException] = {}
    slots = threading.Semaphore(max(1, jobs))
    # The variants are built while the first groups run (builds are minutes under load: off
    # the critical path); a group starts once the variants it installs are there.
    order = [v for g in S.RUN_ORDER for v in variants_of(s for s in chosen if s.group == g)]
    ready = {v: threading.Event() for v in order}
    failed: dict[str, BaseException] = {}

    def build_variants() -> None:
        for variant in order:
            try:
                add_variant(firmware, tree, variant, log)
            except Exception as error:
                failed[variant] = error
            finally:
                ready[variant].set()

    builder = threading.Thread(target=build_variants, daemon=True)
    builder.start()

    def one(group: str) -> None:
        mine = [s for s in chosen if s.group == group]
        try:
            for variant in variants_of(mine):
                ready[variant].wait()
                if variant in failed:
                    raise RuntimeError(f"variant {variant} not built: {failed[variant]}")
            with slots:
                results[group] = run_group(group, mine, firmware, workdir, tree, log)
        except Exception as error:  # the group's appliance did not boot: say so per row
            errors[group] = error

    threads = [threading.Thread(target=one, args=(g,)) for g in groups]
    for thread in threads:
        thread.start()
        time.sleep(0.2)  # to the semaphore in RUN_ORDER
    for thread in threads:
        thread.join()
    by_name = {o.scenario: o for outcomes in results.values() for o in outcomes}
    ordered = []
    for scenario in chosen:
        if scenario.name in by_name:
            ordered.append(by_name[scenario.name])
        else:
            why = errors.get(scenario.group, "not run (an earlier scenario left no device)")
            ordered.append(
                S.Outcome(
                    scenario.name,
                    scenario.group,
                    S.describe(scenario.expect),
                    f"not run: {why}",
                    False,
                    bricked=scenario.group in errors,
                )
            )
    return ordered, time.monotonic() - started


def table(outcomes: list[S.Outcome]) -> str:
    head = ("scenario", "expected", "observed", "slot", "version", "config kept", "")
    rows = [head] + [
        (o.scenario, o.expected, o.observed, o.slot, o.version, "yes" if o.config_kept else "no",
         "ok" if o.ok else "FAILED")
        for o in outcomes
    ]  # fmt: skip
    widths = [min(max(len(r[i]) for r in rows), 60) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell[: widths[i]].ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(outcomes: list[S.Outcome], seconds: float, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "scenarios": len(outcomes),
        "passed": sum(o.ok for o in outcomes),
        "bricked": sum(o.bricked for o in outcomes),
        "seconds": round(seconds, 1),
        "outcomes": [o.to_dict() for o in outcomes],
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
