"""nat/ports.py: allocation policies, parity, ranges (RFC 4787 REQ-3/3a/4) and the reuse
delay for freed ports (RFC 6888)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nat.config import PortAllocation
from nat.ports import COOLING, FREE, IN_USE, PortAllocator, PortSpace

HIGH = (1024, 65535)
LOW = (1, 1023)


def allocator(policy=PortAllocation.PRESERVE, port_range=HIGH, low=LOW, parity=True, seed=0):
    return PortAllocator(policy, port_range, low, parity, seed)


def take(space: PortSpace, alloc: PortAllocator, internal: int, now: float = 0.0) -> int | None:
    port = alloc.allocate(space, internal, now)
    if port is not None:
        space.take(port)
    return port


# -- PortSpace ------------------------------------------------------------------------------------


def test_port_zero_is_never_free():
    space = PortSpace(120.0)
    assert not space.is_free(0)
    assert space.is_free(1) and space.is_free(65535)
    alloc = allocator(PortAllocation.SEQUENTIAL, low=(0, 3), parity=False)
    got = [take(space, alloc, 0) for _ in range(4)]
    assert got == [1, 2, 3, None]


def test_released_port_cools_down_for_the_reuse_delay():
    space = PortSpace(120.0)
    space.take(5000)
    assert space.state[5000] == IN_USE and not space.is_free(5000)
    space.release(5000, now=100.0)
    assert space.state[5000] == COOLING and not space.is_free(5000)
    space.thaw(219.9)
    assert not space.is_free(5000)
    space.thaw(220.0)
    assert space.is_free(5000) and space.state[5000] == FREE


def test_release_without_delay_frees_at_once():
    space = PortSpace(0.0)
    space.take(5000)
    space.release(5000, now=100.0)
    assert space.is_free(5000)
    assert not space.cooling


def test_cooling_queue_thaws_in_release_order():
    space = PortSpace(10.0)
    for i, port in enumerate((3000, 3001, 3002)):
        space.take(port)
        space.release(port, now=float(i))
    space.thaw(11.0)  # releases at 0 and 1 are due, the one at 2 is not
    assert space.is_free(3000) and space.is_free(3001)
    assert not space.is_free(3002)
    assert [port for _, port in space.cooling] == [3002]


def test_thaw_does_not_free_a_port_taken_again_while_cooling():
    space = PortSpace(120.0)
    space.take(8080)
    space.release(8080, now=0.0)
    # A port forward claims the cooling port at once (NatTable._evict_port does this).
    space.state[8080] = FREE
    space.take(8080)
    space.thaw(500.0)
    assert space.state[8080] == IN_USE


def test_allocator_skips_cooling_ports_until_they_thaw():
    space = PortSpace(120.0)
    alloc = allocator(port_range=(2000, 2001), parity=False)
    assert take(space, alloc, 2000, now=0.0) == 2000
    assert take(space, alloc, 2001, now=0.0) == 2001
    space.release(2000, now=10.0)
    assert alloc.allocate(space, 2000, now=129.0) is None
    assert alloc.allocate(space, 2000, now=130.0) == 2000


# -- preserve -------------------------------------------------------------------------------------


def test_preserve_keeps_the_internal_port_when_free():
    space = PortSpace(120.0)
    alloc = allocator()
    assert take(space, alloc, 40000) == 40000
    assert take(space, alloc, 40001) == 40001


def test_preserve_takes_the_next_free_port_of_the_same_parity():
    space = PortSpace(120.0)
    alloc = allocator()
    assert take(space, alloc, 40000) == 40000
    assert take(space, alloc, 40000) == 40002  # 40001 is odd
    assert take(space, alloc, 40001) == 40001
    assert take(space, alloc, 40001) == 40003


def test_preserve_without_parity_takes_the_next_free_port():
    space = PortSpace(120.0)
    alloc = allocator(parity=False)
    assert take(space, alloc, 40000) == 40000
    assert take(space, alloc, 40000) == 40001


def test_preserve_outside_the_range_starts_at_the_bottom():
    space = PortSpace(120.0)
    alloc = allocator(port_range=(20000, 20010))
    assert take(space, alloc, 40001) == 20001  # odd stays odd
    assert take(space, alloc, 40000) == 20000


def test_preserve_wraps_around_inside_the_range():
    space = PortSpace(120.0)
    alloc = allocator(port_range=(20000, 20003), parity=False)
    assert take(space, alloc, 20003) == 20003
    assert take(space, alloc, 20003) == 20000


# -- parity (RFC 4787 REQ-4) ----------------------------------------------------------------------


@settings(max_examples=100)
@given(
    st.sampled_from(list(PortAllocation)),
    st.lists(st.integers(1024, 65535), min_size=1, max_size=30),
    st.integers(0, 2**32),
)
def test_parity_is_kept_while_ports_of_that_parity_are_free(policy, internals, seed):
    space = PortSpace(120.0)
    alloc = allocator(policy, seed=seed)
    got = [take(space, alloc, p) for p in internals]
    assert all(port is not None for port in got)
    assert [p & 1 for p in got] == [p & 1 for p in internals]
    assert len(set(got)) == len(got)  # REQ-3: never overloaded


def test_parity_falls_back_when_only_the_other_parity_is_left():
    space = PortSpace(120.0)
    alloc = allocator(port_range=(3000, 3003))
    assert take(space, alloc, 3000) == 3000
    assert take(space, alloc, 3000) == 3002
    assert take(space, alloc, 3000) in (3001, 3003)  # parity is only a SHOULD
    assert take(space, alloc, 3000) in (3001, 3003)
    assert take(space, alloc, 3000) is None


# -- ranges (RFC 4787 REQ-3a) ---------------------------------------------------------------------


@pytest.mark.parametrize("policy", list(PortAllocation))
def test_low_ports_stay_in_the_low_range(policy):
    space = PortSpace(120.0)
    alloc = allocator(policy, seed=7)
    got = [take(space, alloc, 500) for _ in range(50)]
    assert all(port is not None and 1 <= port <= 1023 for port in got)
    high = [take(space, alloc, 5000) for _ in range(50)]
    assert all(port is not None and 1024 <= port <= 65535 for port in high)


def test_low_range_exhaustion_does_not_spill_into_the_high_range():
    space = PortSpace(120.0)
    alloc = allocator(low=(100, 103), parity=False)
    got = [take(space, alloc, 100) for _ in range(4)]
    assert sorted(got) == [100, 101, 102, 103]
    assert alloc.allocate(space, 100, 0.0) is None


def test_port_1023_and_1024_fall_on_either_side():
    alloc = allocator()
    assert alloc.range_for(1023) == LOW
    assert alloc.range_for(1024) == HIGH
    assert alloc.range_for(0) == LOW


# -- sequential and random ------------------------------------------------------------------------


def test_sequential_hands_out_increasing_ports_and_wraps():
    space = PortSpace(0.0)
    alloc = allocator(PortAllocation.SEQUENTIAL, port_range=(5000, 5005), parity=False)
    got = [take(space, alloc, 40000) for _ in range(6)]
    assert got == [5000, 5001, 5002, 5003, 5004, 5005]
    space.release(5001, 0.0)
    space.release(5003, 0.0)
    assert take(space, alloc, 40000) == 5001  # wrapped to the bottom
    assert take(space, alloc, 40000) == 5003
    assert take(space, alloc, 40000) is None


def test_sequential_ignores_the_internal_port():
    space = PortSpace(0.0)
    alloc = allocator(PortAllocation.SEQUENTIAL, parity=False)
    assert take(space, alloc, 40000) == 1024
    assert take(space, alloc, 50000) == 1025


def test_random_policy_is_deterministic_for_a_seed():
    def run(seed):
        space = PortSpace(120.0)
        alloc = allocator(PortAllocation.RANDOM, seed=seed)
        return [take(space, alloc, 40000 + i) for i in range(30)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    first = run(1)
    assert all(1024 <= p <= 65535 for p in first)
    assert len(set(first)) == 30


def test_random_policy_does_not_preserve_ports():
    space = PortSpace(120.0)
    alloc = allocator(PortAllocation.RANDOM, seed=3)
    got = [take(space, alloc, 40000 + 2 * i) for i in range(20)]
    assert sum(g == 40000 + 2 * i for i, g in enumerate(got)) < 5


@settings(max_examples=50)
@given(st.sampled_from(list(PortAllocation)), st.integers(0, 2**16), st.booleans())
def test_every_port_of_a_small_range_is_handed_out_once(policy, seed, parity):
    space = PortSpace(120.0)
    alloc = allocator(policy, port_range=(6000, 6015), parity=parity, seed=seed)
    got = [take(space, alloc, 7000 + i) for i in range(17)]
    assert sorted(got[:16]) == list(range(6000, 6016))
    assert got[16] is None


def test_the_same_holder_gets_its_cooling_port_back_and_nobody_else_does():
    space, alloc = PortSpace(120.0), allocator(PortAllocation.SEQUENTIAL, parity=False)
    port = take(space, alloc, 4500)
    space.release(port, 10.0, holder=b"client:4500")
    assert take(space, alloc, 4500, 20.0) != port  # another endpoint: the port is cooling
    space.thaw(30.0)
    assert space.reclaim(b"other") is None
    assert space.reclaim(b"client:4500") == port and space.reclaim(b"client:4500") is None


def test_a_holder_coming_back_after_the_delay_gets_no_port_of_its_own():
    space = PortSpace(120.0)
    space.take(5000)
    space.release(5000, 0.0, holder=b"client:4500")
    space.thaw(121.0)
    assert space.is_free(5000) and space.reclaim(b"client:4500") is None
    assert not space.returning and not space.held_by  # nothing kept for thawed ports


def test_a_port_reclaimed_and_released_again_cools_for_its_whole_new_delay():
    space = PortSpace(120.0)
    space.take(5000)
    space.release(5000, 0.0, holder=b"a")
    assert space.reclaim(b"a") == 5000
    space.take(5000)
    space.release(5000, 100.0, holder=b"a")  # its first deadline (120) is stale now
    space.thaw(130.0)
    assert not space.is_free(5000) and space.reclaim(b"a") == 5000


def test_a_port_freed_at_once_forgets_its_holder():
    space = PortSpace(120.0)
    space.take(5000)
    space.release(5000, 0.0, holder=b"a")
    space.free(5000)  # a forward took it, or a helper let it go
    assert space.is_free(5000) and space.reclaim(b"a") is None
