"""The A/B slot policy, in RAUC's U-Boot style: pure functions on the environment's variables,
used by the host's bootloader stage and by the device's update service.

Variables (all text, as fw_printenv shows them):

- ``BOOT_ORDER``: the slots to try, first first (``"A B"``);
- ``BOOT_A_LEFT`` / ``BOOT_B_LEFT``: boot attempts left; the bootloader takes one before it
  boots a slot, a healthy boot gives them back;
- ``SLOT_A_STATE`` / ``SLOT_B_STATE``: ``empty``, ``trial`` (installed, not yet healthy),
  ``good`` (booted and healthy) or ``bad`` (failed its trial; never tried again);
- ``SLOT_A_VERSION`` / ``SLOT_B_VERSION``: the firmware version written there.

When neither environment copy can be read (both CRCs fail), the bootloader starts from
``fallback()``, U-Boot's "default environment": order A B, every slot holding a firmware
``good`` with its attempts, so the first that verifies boots (A before B); it is written back
at once.

A power cut during boot costs an attempt. When every slot's attempts are spent but a slot has
booted healthily before (``good``), the bootloader gives the good slots their attempts back
instead of stopping: power cuts alone never leave the device stuck.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from router.update.layout import SLOTS

ATTEMPTS = 3
STATES = ("empty", "trial", "good", "bad")
ORDER = "BOOT_ORDER"


def left_name(slot: str) -> str:
    return f"BOOT_{slot}_LEFT"


def state_name(slot: str) -> str:
    return f"SLOT_{slot}_STATE"


def version_name(slot: str) -> str:
    return f"SLOT_{slot}_VERSION"


def other(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def order(env: dict[str, str]) -> list[str]:
    """The slots in boot order; unknown names are ignored, a missing slot goes last."""
    named = [s for s in env.get(ORDER, "").split() if s in SLOTS]
    seen = list(dict.fromkeys(named))
    return seen + [s for s in SLOTS if s not in seen]


def attempts(env: dict[str, str], slot: str) -> int:
    try:
        return max(0, min(int(env.get(left_name(slot), "0")), ATTEMPTS))
    except ValueError:
        return 0


def state(env: dict[str, str], slot: str) -> str:
    value = env.get(state_name(slot), "empty")
    return value if value in STATES else "empty"


def initial(version: str, slot: str = "A") -> dict[str, str]:
    """A new disk with a known-good firmware in ``slot`` and nothing in the other."""
    env = {ORDER: f"{slot} {other(slot)}"}
    env |= {left_name(slot): str(ATTEMPTS), state_name(slot): "good", version_name(slot): version}
    env |= {left_name(other(slot)): "0", state_name(other(slot)): "empty"}
    env[version_name(other(slot))] = ""
    return env


def begin_write(env: dict[str, str], slot: str) -> dict[str, str]:
    """Before a slot is overwritten: it is no longer bootable."""
    return env | {left_name(slot): "0", state_name(slot): "empty", version_name(slot): ""}


def switch_to(env: dict[str, str], slot: str, version: str) -> dict[str, str]:
    """A new firmware written and read back: try it first, with a full set of attempts."""
    new = env | {ORDER: f"{slot} {other(slot)}", left_name(slot): str(ATTEMPTS)}
    return new | {state_name(slot): "trial", version_name(slot): version}


def mark_good(env: dict[str, str], slot: str) -> dict[str, str]:
    return env | {state_name(slot): "good", left_name(slot): str(ATTEMPTS)}


def mark_bad(env: dict[str, str], slot: str) -> dict[str, str]:
    keep = other(slot)
    return env | {state_name(slot): "bad", left_name(slot): "0", ORDER: f"{keep} {slot}"}


def fallback(versions: dict[str, str]) -> dict[str, str]:
    """The default environment, for a disk whose two copies are both unreadable: every slot
    that holds a firmware (``versions``: what its header says, "" for none) is ``good``."""
    env = {ORDER: " ".join(SLOTS)}
    for slot in SLOTS:
        version = versions.get(slot, "")
        env |= {
            left_name(slot): str(ATTEMPTS) if version else "0",
            state_name(slot): "good" if version else "empty",
            version_name(slot): version,
        }
    return env  # fmt: skip


def prefer(env: dict[str, str], slot: str) -> dict[str, str]:
    """Manual rollback: boot ``slot`` (a good one) first from now on."""
    return env | {ORDER: f"{slot} {other(slot)}", left_name(slot): str(ATTEMPTS)}


@dataclass
class Selection:
    slot: str | None
    env: dict[str, str]
    notes: list[str] = field(default_factory=list)


def bootable(env: dict[str, str], slot: str) -> bool:
    return attempts(env, slot) > 0 and state(env, slot) in ("trial", "good")


def select(
    env: dict[str, str],
    verify: Callable[[str], str | None],
    save: Callable[[dict[str, str]], None],
) -> Selection:
    """The bootloader: for each slot in order with attempts left, take one attempt, save the
    environment, then verify the slot (``verify`` returns a problem or None) and boot it.
    A slot that does not verify is skipped (and never tried again: ``bad``)."""
    env = dict(env)
    notes: list[str] = []
    if not any(bootable(env, s) for s in SLOTS):
        good = [s for s in SLOTS if state(env, s) == "good"]
        if good:
            notes.append(f"no attempts left; slot(s) {' '.join(good)} booted healthily before: "
                         "their attempts are given back")  # fmt: skip
            for slot in good:
                env[left_name(slot)] = str(ATTEMPTS)
    for slot in order(env):
        if not bootable(env, slot):
            why = "no attempts left" if attempts(env, slot) == 0 else f"state {state(env, slot)}"
            notes.append(f"slot {slot}: skipped ({why})")
            continue
        env[left_name(slot)] = str(attempts(env, slot) - 1)
        save(env)
        problem = verify(slot)
        if problem is None:
            notes.append(f"slot {slot}: booting (attempts left {env[left_name(slot)]})")
            return Selection(slot, env, notes)
        notes.append(f"slot {slot}: does not verify: {problem}")
        env[state_name(slot)] = "bad"
        env[left_name(slot)] = "0"
        save(env)
    return Selection(None, env, notes)
