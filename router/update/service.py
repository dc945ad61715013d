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
import mmap
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from router.checkpoint import reached
from router.firmware.format import FormatError, read_firmware
from router.firmware.verify import MAX_FIRMWARE_BYTES, Report, validate
from router.store import write_atomic
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


class Refusal(UpdateError):
    """The file failed its checks: ``verdict`` says which."""

    def __init__(self, message: str, verdict: Verdict):
        super().__init__(message)
        self.verdict = verdict


@dataclass
class Verdict:
    """What the front ends show before anything is written (OpenWrt's validate answer)."""

    valid: bool
    forceable: bool  # only checks that ``force`` may override failed
    keep_settings_possible: bool
    version: str | None
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    explanation: str = ""  # the failed checks in one line (Report.problems)
    forced: bool = False  # an older or equal version, accepted because force was given

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
        return self.explanation


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
            with self.locked(wait=0):
                return False
        except Busy:
            return True

    # -- the steps ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, wait: float = 2.0) -> Iterator[None]:
        """One step at a time. ``wait``: how long to retry for a lock held briefly (a status
        poll, the boot's environment update) before answering Busy."""
        self.device.lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.device.lock, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Busy("another update is in progress; wait for it to finish") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def record(self, state: str, detail: str, **fields: Any) -> None:
        """A move in the journal, and the same line in syslog."""
        self.journal.move(state, detail, **fields)
        self.log(f"{state}: {detail}" if detail else state)

    def receive(self, stream: BinaryIO, limit: int = MAX_FIRMWARE_BYTES, source: str = "") -> str:
        """Store an uploaded firmware, hashing it on the way; returns its sha256."""
        with self.locked():
            if self.journal.state in (J.INSTALLED, J.TRIAL):
                raise UpdateError("a new firmware is installed and not yet committed (reboot, "
                                  "or wait for its health check); try again then")  # fmt: skip
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
                        reached("upload", size)
                    out.flush()
                    os.fsync(out.fileno())
            except (UpdateError, OSError) as error:
                part.unlink(missing_ok=True)
                self.record(J.RECEIVED, f"upload from {source or 'a client'}")
                self.record(J.FAILED, f"upload refused: {error}", reason=str(error))
                raise UpdateError(str(error)) from error
            os.replace(part, self.upload_path)
            reached("uploaded", size)
            sha = digest.hexdigest()
            detail = f"{size} bytes, sha256 {sha[:16]}..." + (f" from {source}" if source else "")
            self.record(J.RECEIVED, detail, update={"size": size, "sha256": sha})
            return sha

    def check(self, keep_settings: bool = True, force: bool = False) -> Verdict:
        """Validate the uploaded file; nothing is written to a slot."""
        with self.locked(), self._upload() as data:
            return self._check(data, keep_settings, force)

    @contextlib.contextmanager
    def _upload(self) -> Iterator[bytes]:
        """The uploaded file, mapped rather than read: its pages are the page cache's, which
        the kernel can drop, where 24 MB of bytes would be the process's own on a 256 MB
        device that also holds the upload in waitress's buffer."""
        try:
            f = open(self.upload_path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise UpdateError("file: nothing uploaded; upload a firmware first") from None
        with f:
            if os.fstat(f.fileno()).st_size == 0:
                yield b""
                return
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                yield data  # type: ignore[misc]
            finally:
                with contextlib.suppress(BufferError):  # a view still held: the GC closes it
                    data.close()

    def _check(self, data: bytes, keep_settings: bool, force: bool, again=False) -> Verdict:
        d = self.device
        report = validate(data, self._keyring(), d.compatible, d.compat_version,
                          min(MAX_FIRMWARE_BYTES, d.slot_size), d.version, keep_settings,
                          force)  # fmt: skip
        checks = {n: {"status": c.status, "detail": c.detail} for n, c in report.checks.items()}
        keep_possible = not (report.settings_reset or "compat" in report.failed())
        version = report.unpacked.manifest.version if report.unpacked else None
        verdict = Verdict(report.valid, report.failed() == ["version"], keep_possible, version,
                          checks, report.problems(), report.forced)  # fmt: skip
        state = self.journal.state
        if state in (J.RECEIVED, J.VERIFIED) and not verdict.valid:
            self.record(J.FAILED, f"refused: {verdict.explain()}", reason=verdict.explain())
        elif state == J.RECEIVED or (state == J.VERIFIED and not again):
            self.record(J.VERIFIED, f"version {version}: every check passed",
                       update={"version": version})  # fmt: skip
        return verdict

    def install(
        self,
        keep_settings: bool = True,
        force: bool = False,
        progress: Progress | None = None,
        checked: Callable[[Verdict], None] | None = None,
    ) -> Verdict:
        """Check again, write the inactive slot, read it back, switch. The caller reboots.
        ``checked`` sees the verdict before anything is written (routerctl prints it: one
        check of the file, not a check and then another)."""
        with self.locked(), self._upload() as data:
            if self.journal.state not in (J.RECEIVED, J.VERIFIED):
                self.record(J.RECEIVED, "the uploaded file again")
            verdict = self._check(data, keep_settings, force, again=True)
            if checked is not None:
                checked(verdict)
            if not verdict.valid:
                raise Refusal(f"refused: {verdict.explain()}", verdict)
            reached("verified")
            target = self.device.inactive
            old = self.device.version
            forced = verdict.forced
            if forced:
                self.log(f"forced install of {verdict.version} over {old}")
            update = {"slot": target, "version": verdict.version, "previous_version": old,
                      "previous_slot": self.device.booted, "keep_settings": keep_settings,
                      "forced": force}  # fmt: skip
            env = slots.begin_write(self.environment(), target)
            self.device.env.save(env, between=lambda: reached("begin-write:between-copies"))
            detail = f"slot {target}: {len(data)} bytes"
            if forced:
                detail += f"; {verdict.checks['version']['detail']}"
            self.record(J.WRITING, detail, update=update)
            try:
                self._write_slot(target, data, progress)
                self._keep_config()
                reached("config-kept")
                self.device.env.save(
                    slots.switch_to(env, target, verdict.version),
                    between=lambda: reached("switch:between-copies"),
                )
            except Exception as error:  # the old slot still boots: say so and stop here
                self.record(J.FAILED, f"slot {target}: {error}", reason=str(error))
                raise UpdateError(f"slot {target}: {error}") from error
            self.record(J.INSTALLED, f"slot {target} holds {verdict.version} (read back, equal); "
                       "boot order switched, attempts " f"{slots.ATTEMPTS}")  # fmt: skip
            reached("installed")
            return verdict

    def _write_slot(self, slot: str, data: bytes, progress: Progress | None) -> None:
        path = self.device.slots[slot]
        total = len(data)
        fd = os.open(path, os.O_WRONLY)
        try:
            for offset in range(0, total, CHUNK):
                os.pwrite(fd, data[offset : offset + CHUNK], offset)
                done = min(offset + CHUNK, total)
                reached("write", done)
                if progress:
                    progress("writing", done, total)
                if done == total or (offset // CHUNK) % 4 == 3:
                    self.journal.note(progress={"phase": "writing", "done": done, "total": total})
            os.fsync(fd)
            # Drop the cached pages, so the read back comes from the disk, not from memory.
            os.posix_fadvise(fd, 0, total, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        reached("written", total)
        with open(path, "rb") as f:  # a chunk at a time: no second 24 MB in memory
            for offset in range(0, total, CHUNK):
                if f.read(min(CHUNK, total - offset)) != data[offset : offset + CHUNK]:
                    raise UpdateError(f"read back differs from what was written at {offset}")
        reached("read-back", total)
        if progress:
            progress("verified", total, total)

    def _keep_config(self) -> None:
        """The saved configuration, kept beside the journal for a rollback. (An update that
        resets the settings leaves it in place: the new firmware's first trial boot resets
        them, so a power cut before the switch never costs the old firmware its settings.)"""
        kept = self.device.work / KEPT_CONFIG
        kept.unlink(missing_ok=True)
        if self.device.config.exists():
            write_atomic(kept, self.device.config.read_text())

    def install_file(self, stream: BinaryIO, keep_settings=True, force=False, progress=None,
                     source: str = "") -> Verdict:  # fmt: skip
        self.receive(stream, source=source)
        return self.install(keep_settings, force, progress)

    def rollback(self) -> str:
        """Boot the other slot from now on (it must be good and verify). The caller reboots."""
        with self.locked():
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
            self.record(J.ROLLED_BACK, f"manual rollback to slot {other} ({version})",
                       reason="manual rollback",
                       update={"slot": other, "version": version,
                               "previous_version": self.device.version,
                               "previous_slot": self.device.booted})  # fmt: skip
            return other

    def slot_problem(self, slot: str) -> str | None:
        """Why the firmware in ``slot`` would not boot (None: it verifies)."""
        report = slot_report(self.device.slots[slot], 0, self.device.slot_size, self._keyring(),
                             self.device.compatible)  # fmt: skip
        return report if isinstance(report, str) else None

    def _keyring(self):
        # Imported when a check runs: cryptography stays off the boot and status paths.
        from router.firmware.keyring import Keyring

        return Keyring.from_dir(self.device.keyring)


def slot_report(path, offset: int, size: int, keyring, compatible: str) -> Report | str:
    """The firmware stored in a slot, checked (the host's bootloader stage and the device's
    rollback use this): its Report when it verifies, otherwise what is wrong."""
    try:
        report = validate(read_firmware(path, offset, size), keyring, compatible)
    except (FormatError, OSError) as error:
        return str(error)
    return report if report.valid else report.problems()
