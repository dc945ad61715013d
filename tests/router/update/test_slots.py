"""The bootloader's slot choice as a table: environment in, slot booted, environment out."""

from __future__ import annotations

import pytest

from router.update import slots


def env(order="A B", a=(3, "good"), b=(0, "empty")) -> dict[str, str]:
    return {
        "BOOT_ORDER": order,
        "BOOT_A_LEFT": str(a[0]),
        "SLOT_A_STATE": a[1],
        "BOOT_B_LEFT": str(b[0]),
        "SLOT_B_STATE": b[1],
    }


CASES = [
    # (name, environment, slots that do not verify, booted, A left after, B left after)
    ("first good slot", env(), set(), "A", 2, 0),
    ("trial slot first", env("B A", b=(3, "trial")), set(), "B", 3, 2),
    ("last attempt of a trial", env("B A", b=(1, "trial")), set(), "B", 3, 0),
    ("trial attempts spent", env("B A", b=(0, "trial")), set(), "A", 2, 0),
    ("trial does not verify", env("B A", b=(3, "trial")), {"B"}, "A", 2, 0),
    ("bad slot never tried", env("B A", b=(3, "bad")), set(), "A", 2, 3),
    ("empty slot never tried", env("B A", b=(3, "empty")), set(), "A", 2, 3),
    ("garbage order", env("X Y"), set(), "A", 2, 0),
    ("garbage counter", {**env("B A", b=(3, "trial")), "BOOT_B_LEFT": "lots"}, set(), "A", 2, 0),
    ("good slots refilled", env(a=(0, "good"), b=(0, "good")), set(), "A", 2, 3),
    ("no slot at all", env(a=(3, "empty")), set(), None, 3, 0),
    ("nothing verifies", env(a=(3, "good"), b=(3, "good")), {"A", "B"}, None, 0, 0),
    ("only a spent trial", env("B A", a=(0, "bad"), b=(0, "trial")), set(), None, 0, 0),
]


@pytest.mark.parametrize("name, start, broken, booted, a_left, b_left", CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_select(name, start, broken, booted, a_left, b_left):
    saved: list[dict[str, str]] = []
    verified: list[str] = []

    def verify(slot):
        verified.append(slot)
        return "bad signature" if slot in broken else None

    choice = slots.select(start, verify, lambda e: saved.append(dict(e)))
    assert choice.slot == booted
    assert slots.attempts(choice.env, "A") == a_left
    assert slots.attempts(choice.env, "B") == b_left
    if booted:
        assert verified[-1] == booted and saved[-1] == choice.env  # what boots is on disk
    for slot in broken & set(verified):
        assert slots.state(choice.env, slot) == "bad"  # never tried again
    if booted is None:
        assert choice.notes  # it says why, slot by slot


def test_attempt_is_saved_before_verification():
    order = []
    slots.select(env("B A", b=(3, "trial")), lambda s: order.append(("verify", s)),
                 lambda e: order.append(("save", e["BOOT_B_LEFT"])))  # fmt: skip
    assert order[:2] == [("save", "2"), ("verify", "B")]


def test_update_transitions():
    e = slots.initial("0.1.0")
    assert slots.order(e) == ["A", "B"] and slots.state(e, "B") == "empty"
    e = slots.begin_write(e, "B")
    assert not slots.bootable(e, "B")
    e = slots.switch_to(e, "B", "0.2.0")
    assert slots.order(e) == ["B", "A"] and slots.state(e, "B") == "trial"
    assert slots.attempts(e, "B") == slots.ATTEMPTS and e["SLOT_B_VERSION"] == "0.2.0"
    good = slots.mark_good({**e, "BOOT_B_LEFT": "1"}, "B")
    assert slots.state(good, "B") == "good" and slots.attempts(good, "B") == slots.ATTEMPTS
    bad = slots.mark_bad(e, "B")
    assert slots.order(bad) == ["A", "B"] and not slots.bootable(bad, "B")
    back = slots.prefer(good, "A")
    assert slots.order(back) == ["A", "B"] and slots.state(back, "B") == "good"
