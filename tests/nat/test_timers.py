"""nat/timers.py: the bucketed expiry wheel."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from nat.timers import ExpiryWheel


def test_empty_wheel():
    wheel = ExpiryWheel()
    assert wheel.next_due() is None
    assert list(wheel.pop_due(1e9)) == []
    assert len(wheel) == 0


def test_items_are_filed_under_the_next_whole_second():
    wheel = ExpiryWheel()
    wheel.schedule("a", 10.2)
    wheel.schedule("b", 10.0)
    assert wheel.next_due() == 10.0
    assert list(wheel.pop_due(10.5)) == [(10, "b")]  # "a" may live until 10.2: not yet due
    assert wheel.next_due() == 11.0
    assert list(wheel.pop_due(11.0)) == [(11, "a")]
    assert wheel.next_due() is None


def test_pop_due_returns_seconds_in_order():
    wheel = ExpiryWheel()
    for item, at in (("c", 30), ("a", 10), ("d", 40), ("b", 20), ("a2", 10)):
        wheel.schedule(item, at)
    assert len(wheel) == 5
    assert list(wheel.pop_due(30)) == [(10, "a"), (10, "a2"), (20, "b"), (30, "c")]
    assert len(wheel) == 1
    assert wheel.next_due() == 40.0


def test_pop_due_leaves_later_items_and_accepts_new_ones():
    wheel = ExpiryWheel()
    wheel.schedule("late", 100)
    assert list(wheel.pop_due(50)) == []
    wheel.schedule("early", 60)
    assert wheel.next_due() == 60.0
    assert list(wheel.pop_due(100)) == [(60, "early"), (100, "late")]


def test_an_item_may_be_filed_twice():
    wheel = ExpiryWheel()
    wheel.schedule("x", 5)
    wheel.schedule("x", 7)
    assert list(wheel.pop_due(10)) == [(5, "x"), (7, "x")]


def test_rescheduling_while_popping_is_seen_later():
    wheel = ExpiryWheel()
    wheel.schedule("x", 5)
    popped = []
    for second, item in wheel.pop_due(5):
        popped.append((second, item))
        wheel.schedule(item, second + 10)  # the owner found it still alive
    assert popped == [(5, "x")]
    assert wheel.next_due() == 15.0
    assert list(wheel.pop_due(15)) == [(15, "x")]


@settings(max_examples=200)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), max_size=40),
    st.floats(0, 1100, allow_nan=False),
)
def test_pop_due_is_never_early_never_lost_and_ordered(times, now):
    wheel = ExpiryWheel()
    for i, at in enumerate(times):
        wheel.schedule(i, at)
    assert len(wheel) == len(times)
    if times:
        assert wheel.next_due() == float(math.ceil(min(times)))
    popped = list(wheel.pop_due(now))
    seconds = [second for second, _ in popped]
    assert seconds == sorted(seconds)
    for second, item in popped:
        assert second == math.ceil(times[item])
        assert times[item] <= now  # never early
    due = {i for i, at in enumerate(times) if math.ceil(at) <= now}
    assert {item for _, item in popped} == due  # never lost
    assert len(wheel) == len(times) - len(popped)
    rest = [at for i, at in enumerate(times) if i not in due]
    assert wheel.next_due() == (float(math.ceil(min(rest))) if rest else None)
