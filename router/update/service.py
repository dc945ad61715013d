"""The update service: one implementation behind the web UI, the API and routerctl.

    receive (streamed to the work directory, hashed on the fly, size-limited)
 -> check (router.firmware.verify: every check reported, nothing written yet)
 -> install: the inactive slot made unbootable, written with progress, fsynced, read back
    and compared, the configuration kept for a rollback (or reset), then the switch
    (boot order, attempts, ``trial``)
 -> reboot -> the new firmware's health check commits it (router.update.boot), or the
    bootloader returns to the old slot once its attempts are spent.

Every step is a move in the journal (router.update.journal) and a line in syslog. One update at
a time: an flock on the device's lock file, released by the kernel if its holder dies, so an
interrupted update never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from router.firmware.format import FormatError, declared_length
from router.firmware.keyring import Keyring
from router.firmware.verify import MAX_FIRMWARE_BYTES, validate
from router.update import journal as J
from router.update import slots
from router.update.device import UpdateDevice

CHUNK = 1024 * 1024
UPLOAD = "upload.fw"
KEPT_CONFIG = "config-before.json"


class UpdateError(RuntimeError):
    """Refused or failed; the message names what and why. The running firmware is untouched."""


class Busy(UpdateError):
    pass


@dataclass
class Verdict:
    """What the front ends show before anything is written (OpenWrt's validate answer)."""

    valid: bool
    forceable: bool  # only checks that ``force`` may override failed
    keep_settings_possible: bool
    version: str | None
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    def failed(self) -> list[str]:
        return [name for name, c in self.checks.items() if c["status"] == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "forceable": self.forceable,
            "keep_settings_possible": self.keep_settings_possible,
            "version": self.version,
            "checks": self.checks,
        }

    def explain(self) -> str:
        return "; ".join(f"{name}: {self.checks[name]['detail']}" for name in self.failed())


def syslog(message: str) -> None:
    """One line to the system log (busybox logger); silent where there is none."""
    with contextlib.suppress(OSError):
        subprocess.run(["logger", "-t", "natbox-update", message], check=False, timeout=5)


def reboot_device() -> None:
    subprocess.run(["sync"], check=False)
    subprocess.Popen(["reboot"])  # busybox init runs rcK, then the board resets


Progress = Callable[[str, int, int], None]  # (phase, done, total)


class UpdateService:
    def __init__(
        self,
        device: UpdateDevice,
        reboot: Callable[[], None] = reboot_device,
        log: Callable[[str], None] = syslog,
    ):
        self.device, self.reboot, self.log = device, reboot, log
        self.journal = J.Journal(device.work / "journal.json")
        self.upload_path = device.work / UPLOAD

    # -- reading ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        return self.device.env.load()

    def status(self) -> dict[str, Any]:
        record = self.journal.read()
        try:
            env, env_error = self.environment(), ""
        except (OSError, ValueError) as error:
            env, env_error = {}, str(error)
        slot_info = {
            s: {
                "state": slots.state(env, s),
                "version": env.get(slots.version_name(s), "") or None,
                "attempts_left": slots.attempts(env, s),
                "booted": s == self.device.booted,
            }
            for s in self.device.slots
        }
        return {
            "state": record["state"],
            "since": record.get("since"),
            "reason": record.get("reason", ""),
            "update": record.get("update", {}),
            "progress": record.get("progress"),
            "history": record.get("history", []),
            "running_version": self.device.version,
            "booted_slot": self.device.booted,
            "boot_order": slots.order(env),
            "slots": slot_info,
            "environment": env,
            "environment_error": env_error,
            "busy": self.busy(),
            "uploaded": self.upload_path.exists(),
        }

    def busy(self) -> bool:
        try:
            with self._locked():
                return False
        except Busy:
            return True

    # -- the steps ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.device.lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.device.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy("another update is in progress; wait for it to finish") from None
            yield
        finally:
            os.close(fd)

    def _move(self, state: str, detail: str, **fields: Any) -> None:
        self.journal.move(state, detail, **fields)
        self.log(f"{state}: {detail}" if detail else state)

    def receive(self, stream: BinaryIO, limit: int = MAX_FIRMWARE_BYTES, source: str = "") -> str:
        """Store an uploaded firmware, hashing it on the way; returns its sha256."""
        with self._locked():
            if self.journal.state == J.TRIAL:
                raise UpdateError("the new firmware is still on trial (its health check has not "
                                  "committed it yet); try again in a minute")  # fmt: skip
            self.device.work.mkdir(parents=True, exist_ok=True)
            part = self.upload_path.with_suffix(".part")
            digest, size = hashlib.sha256(), 0
            self.upload_path.unlink(missing_ok=True)
            try:
                with open(part, "wb") as out:
                    while chunk := stream.read(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise UpdateError(f"file: larger than the limit of {limit} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            except (UpdateError, OSError) as error:
                part.unlink(missing_ok=True)
                self._move(J.RECEIVED, f"upload from {source or 'a client'}")
                self._move(J.FAILED, f"upload refused: {error}", reason=str(error))
                raise UpdateError(str(error)) from error
            os.replace(part, self.upload_path)
            sha = digest.hexdigest()
            detail = f"{size} bytes, sha256 {sha[:16]}..." + (f" from {source}" if source else "")
            self._move(J.RECEIVED, detail, update={"size": size, "sha256": sha})
            return sha

    def check(self, keep_settings: bool = True, force: bool = False) -> Verdict:
        """Validate the uploaded file; nothing is written to a slot."""
        with self._locked():
            return self._check(self._read_upload(), keep_settings, force)

    def _read_upload(self) -> bytes:
        try:
            return self.upload_path.read_bytes()
        except FileNotFoundError:
            raise UpdateError("file: nothing uploaded; upload a firmware first") from None

    def _check(self, data: bytes, keep_settings: bool, force: bool, again=False) -> Verdict:
        d = self.device
        report = validate(data, Keyring.from_dir(d.keyring), d.compatible, d.compat_version,
                          min(MAX_FIRMWARE_BYTES, d.slot_size), d.version, keep_settings,
                          force)  # fmt: skip
        checks = {n: {"status": c.status, "detail": c.detail} for n, c in report.checks.items()}
        failed = [n for n, c in checks.items() if c["status"] == "fail"]
        compat = checks.get("compat", {})
        keep_possible = not (compat.get("status") == "fail" or "reset" in compat.get("detail", ""))
        version = report.unpacked.manifest.version if report.unpacked else None
        verdict = Verdict(report.valid, failed == ["version"], keep_possible, version, checks)
        state = self.journal.state
        if state in (J.RECEIVED, J.VERIFIED) and not verdict.valid:
            self._move(J.FAILED, f"refused: {verdict.explain()}", reason=verdict.explain())
        elif state == J.RECEIVED or (state == J.VERIFIED and not again):
            self._move(J.VERIFIED, f"version {version}: every check passed",
                       update={"version": version})  # fmt: skip
        return verdict

    def install(
        self, keep_settings: bool = True, force: bool = False, progress: Progress | None = None
    ) -> Verdict:
        """Check again, write the inactive slot, read it back, switch. The caller reboots."""
        with self._locked():
            data = self._read_upload()
            if self.journal.state not in (J.RECEIVED, J.VERIFIED):
                self._move(J.RECEIVED, "the uploaded file again")
            verdict = self._check(data, keep_settings, force, again=True)
            if not verdict.valid:
                raise UpdateError(f"refused: {verdict.explain()}")
            target = self.device.inactive
            old = self.device.version
            forced = force and "forced" in verdict.checks["version"]["detail"]
            if forced:
                self.log(f"forced install of {verdict.version} over {old}")
            update = {"slot": target, "version": verdict.version, "previous_version": old,
                      "previous_slot": self.device.booted, "keep_settings": keep_settings,
                      "forced": force}  # fmt: skip
            env = self.environment()
            self.device.env.save(slots.begin_write(env, target))
            detail = f"slot {target}: {len(data)} bytes"
            if forced:
                detail += f"; {verdict.checks['version']['detail']}"
            self._move(J.WRITING, detail, update=update)
            try:
                self._write_slot(target, data, progress)
                self._keep_config(keep_settings)
            except OSError as error:  # the old slot still boots: say so and stop here
                self._move(J.FAILED, f"slot {target}: {error}", reason=str(error))
                raise UpdateError(f"slot {target}: {error}") from error
            self.device.env.save(slots.switch_to(self.environment(), target, verdict.version))
            self._move(J.INSTALLED, f"slot {target} holds {verdict.version} (read back, equal); "
                       "boot order switched, attempts " f"{slots.ATTEMPTS}")  # fmt: skip
            return verdict

    def _write_slot(self, slot: str, data: bytes, progress: Progress | None) -> None:
        path = self.device.slots[slot]
        total = len(data)
        fd = os.open(path, os.O_WRONLY)
        try:
            for offset in range(0, total, CHUNK):
                os.pwrite(fd, data[offset : offset + CHUNK], offset)
                done = min(offset + CHUNK, total)
                if progress:
                    progress("writing", done, total)
                if done == total or (offset // CHUNK) % 4 == 3:
                    self.journal.note(progress={"phase": "writing", "done": done, "total": total})
            os.fsync(fd)
        finally:
            os.close(fd)
        # Read back through a fresh descriptor and compare.
        with open(path, "rb") as f:
            back = f.read(total)
        if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            self._move(J.FAILED, f"slot {slot}: read back differs from what was written",
                       reason=f"slot {slot}: read-back mismatch")  # fmt: skip
            raise UpdateError(f"slot {slot}: read back differs from what was written")
        if progress:
            progress("verified", total, total)

    def _keep_config(self, keep_settings: bool) -> None:
        """The saved configuration, kept beside the journal for a rollback; removed from its
        place when the update resets the settings (the new firmware starts from factory)."""
        kept = self.device.work / KEPT_CONFIG
        kept.unlink(missing_ok=True)
        if self.device.config.exists():
            shutil.copyfile(self.device.config, kept)
            if not keep_settings:
                self.device.config.unlink()

    def install_file(self, stream: BinaryIO, keep_settings=True, force=False, progress=None,
                     source: str = "") -> Verdict:  # fmt: skip
        self.receive(stream, source=source)
        return self.install(keep_settings, force, progress)

    def rollback(self) -> str:
        """Boot the other slot from now on (it must be good and verify). The caller reboots."""
        with self._locked():
            other = self.device.inactive
            env = self.environment()
            if slots.state(env, other) != "good":
                raise UpdateError(f"slot {other} is {slots.state(env, other)}: nothing to go "
                                  "back to")  # fmt: skip
            problem = self.slot_problem(other)
            if problem:
                raise UpdateError(f"slot {other} does not verify: {problem}")
            version = env.get(slots.version_name(other), "?")
            self.device.env.save(slots.prefer(env, other))
            self._move(J.ROLLED_BACK, f"manual rollback to slot {other} ({version})",
                       reason="manual rollback",
                       update={"slot": other, "version": version,
                               "previous_version": self.device.version,
                               "previous_slot": self.device.booted})  # fmt: skip
            return other

    def slot_problem(self, slot: str) -> str | None:
        """Why the firmware in ``slot`` would not boot (None: it verifies)."""
        path, size = self.device.slots[slot], self.device.slot_size
        try:
            with open(path, "rb") as f:

                def read_at(offset: int, n: int) -> bytes:
                    f.seek(offset)
                    return f.read(max(0, min(n, size - offset)))

                length = declared_length(read_at)
                data = read_at(0, length)
        except (FormatError, OSError) as error:
            return str(error)
        d = self.device
        report = validate(data, Keyring.from_dir(d.keyring), d.compatible)
        if report.valid:
            return None
        return "; ".join(f"{n}: {c.detail}" for n, c in report.checks.items() if c.status == "fail")
