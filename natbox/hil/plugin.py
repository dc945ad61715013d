"""natbox's pytest plugin (entry point ``pytest11: natbox``): a router under test and the hosts
around it, for a user's own tests of their clients, phones and devices behind it.

Fixtures: ``router`` (``natbox.hil.router.Router``: the REST API logged in, ``run``,
``routerctl``, profile, passthrough and forward helpers, counters, mappings, VPN events),
``lan_client``, ``lan_clients`` and ``internet`` (``natbox.hil.hosts.Host``), and
``natbox_routers`` (the session's routers, one per mode, for fixtures of a wider scope).

The mode: ``--natbox-mode`` (or the ``natbox_mode`` ini option, or the ``natbox(mode=...)``
marker): ``netns`` (natbox's datapath in a network namespace, seconds) or ``vm`` (the firmware
under QEMU); several modes run each test once per mode. One router per mode and pytest process
(xdist workers have their own); between tests the router gets its configuration back.

A failing test keeps its evidence, the slice of every link's capture taken during the test,
the console transcript or the router's logs, and the logs of what it started on the hosts,
in a folder named after the test (``--natbox-artifacts``), listed in the failure's report.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from natbox.hil import state as S
from natbox.hil.hosts import Host
from natbox.hil.pcap import slice_capture
from natbox.hil.pool import Pool, Unavailable
from natbox.hil.router import Router

CURRENT = pytest.StashKey[dict]()
POOL = pytest.StashKey[Pool]()
LAST_USER = pytest.StashKey[dict]()  # mode -> the node id of the last test that needs it


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("natbox", "natbox: the router under test")
    options = [
        (
            "mode",
            "MODES",
            "netns",
            "netns (the datapath in a namespace), vm (the firmware under "
            "QEMU), or both (netns,vm): each test runs once per mode",
        ),
        ("firmware", "FILE", "", "vm mode: boot this firmware file (your own build)"),
        ("keyring", "DIR", "", "vm mode: the keyring that verifies --natbox-firmware"),
        (
            "lan-interface",
            "IFACE",
            "",
            "put this host interface, tap or bridge on the router's "
            "LAN (the device in the loop); comma-separated for several",
        ),
        ("clients", "N", "2", "LAN client namespaces around the router"),
        (
            "vm-profiles",
            "NAMES",
            "",
            "vm mode: run profile-parametrized tests over these "
            "profiles only (comma-separated; default all)",
        ),
        ("artifacts", "DIR", "natbox-artifacts", "where failing tests keep their evidence"),
    ]
    for name, metavar, default, text in options:
        ini = "natbox_" + name.replace("-", "_")
        group.addoption(f"--natbox-{name}", dest=ini, metavar=metavar, help=text)
        parser.addini(ini, text, default=default)
    group.addoption("--natbox-keep-artifacts", action="store_true",
                    help="keep the evidence of passing tests too")  # fmt: skip


def setting(config: pytest.Config, name: str) -> str:
    ini = "natbox_" + name.replace("-", "_")
    value = config.getoption(ini)
    return str(value if value is not None else config.getini(ini))


def listed(text: str) -> list[str]:
    return [word for word in re.split(r"[,\s]+", text) if word]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "natbox(mode=, profile=, passthrough=, netem=, forwards=): the router state a test "
        "needs; a list where one value is expected runs the test once per value",
    )
    for mode in listed(setting(config, "mode")):
        if mode not in S.MODES:
            raise pytest.UsageError(f"--natbox-mode {mode}: expected netns, vm or netns,vm")
    clients = setting(config, "clients")
    if not clients.isdigit() or not 1 <= int(clients) <= 8:
        raise pytest.UsageError(f"--natbox-clients {clients}: expected 1 to 8")
    firmware = setting(config, "firmware")
    if firmware and not Path(firmware).is_file():
        raise pytest.UsageError(f"--natbox-firmware {firmware}: no such file")
    pool = Pool(
        workdir=Path(config.rootpath) / "build" / "natbox-hil" / _worker(config),
        clients=int(clients),
        firmware=Path(firmware) if firmware else None,
        keyring=Path(setting(config, "keyring")) if setting(config, "keyring") else None,
        lan_interfaces=listed(setting(config, "lan-interface")),
    )
    config.stash[POOL] = pool
    atexit.register(pool.close)  # a session that dies before its teardown still cleans up
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupted)


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # pytest then tears the session down: the routers go


def _worker(config: pytest.Config) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_unconfigure(config: pytest.Config) -> None:
    if POOL in config.stash:
        config.stash[POOL].close()


def _marker_kwargs(node) -> dict:
    merged: dict = {}
    for mark in reversed(list(node.iter_markers("natbox"))):  # module, class, then function
        merged.update(mark.kwargs)
    return merged


def _states(config: pytest.Config, node) -> list[S.RouterState]:
    vm_profiles = listed(setting(config, "vm-profiles")) or None
    try:
        return S.expand(_marker_kwargs(node), listed(setting(config, "mode")), vm_profiles)
    except S.StateError as error:
        raise pytest.UsageError(f"{node.nodeid}: {error}") from None


def mode_of(item: pytest.Item) -> str | None:
    """The mode a collected test runs its router in (None: it has no router)."""
    if "natbox_state" not in getattr(item, "fixturenames", ()):
        return None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "natbox_state" in callspec.params:
        return callspec.params["natbox_state"].mode
    states = _states(item.config, item)
    return states[0].mode if states else None


def modes_needed(item: pytest.Item) -> set[str]:
    """The routers a test needs: its ``router``'s mode; for a test that takes
    ``natbox_routers`` itself (through a fixture of its project), the modes its marker
    names, or every mode."""
    mode = mode_of(item)
    if mode is not None:
        return {mode}
    if "natbox_routers" not in getattr(item, "fixturenames", ()):
        return set()
    named = {m for mark in item.iter_markers("natbox") for m in listed_modes(mark.kwargs)}
    return named or set(S.MODES)


def listed_modes(kwargs: dict) -> list[str]:
    mode = kwargs.get("mode", [])
    return list(mode) if isinstance(mode, list | tuple) else [mode]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note each mode's last test: its router is shut down after it (not at the end of the
    session), which frees an appliance's CPU and memory for the tests that follow. Under
    xdist a worker runs only some of the tests: there the routers live to the end."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    config.stash[LAST_USER] = {mode: item.nodeid for item in items
                               for mode in modes_needed(item)}  # fmt: skip


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    yield
    last = item.config.stash.get(LAST_USER, {})
    for mode in [m for m, nodeid in last.items() if nodeid == item.nodeid]:
        item.config.stash[POOL].close(mode)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "natbox_state" not in metafunc.fixturenames:
        return
    states = _states(metafunc.config, metafunc.definition)
    if len(states) > 1:
        metafunc.parametrize("natbox_state", states, ids=[s.id for s in states], indirect=True)


@pytest.fixture
def natbox_state(request) -> S.RouterState:
    """The state this test asked for (one combination of its marker's lists)."""
    if hasattr(request, "param"):
        return request.param
    states = _states(request.config, request.node)
    if not states:
        pytest.skip("no router state left after --natbox-vm-profiles")
    return states[0]


@pytest.fixture(scope="session")
def natbox_routers(request) -> Pool:
    """The session's routers, booted on first use (``natbox_routers.get("vm")``)."""
    pool = request.config.stash[POOL]
    yield pool
    pool.close()


@pytest.fixture
def router(request, natbox_routers: Pool, natbox_state: S.RouterState) -> Router:
    try:
        box = natbox_routers.get(natbox_state.mode)
    except Unavailable as why:
        pytest.skip(str(why))
    folder = evidence_folder(request.config, request.node)
    shutil.rmtree(folder, ignore_errors=True)
    hosts = [*box.lan_clients, box.internet]
    marks = {host.name: host.begin(folder) for host in hosts}
    box.begin_test()
    request.node.stash[CURRENT] = {"router": box, "folder": folder, "start": time.time()}
    try:
        S.apply(box, natbox_state)
        yield box
    finally:
        try:
            for host in hosts:
                host.stop_started(since=marks[host.name])
            box.clear_impairments()
            if not box.healthy():  # the next test gets a working router
                box.recover()
            box.restore_baseline()
        except BaseException:
            natbox_routers.discard(box)  # a router we cannot reset is no use to the next test
            raise
        finally:
            kept = request.node.stash[CURRENT].get("kept")
            if not kept and not request.config.getoption("natbox_keep_artifacts"):
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def lan_clients(router: Router) -> list[Host]:
    return router.lan_clients


@pytest.fixture
def lan_client(router: Router) -> Host:
    return router.lan_clients[0]


@pytest.fixture
def internet(router: Router) -> Host:
    """The internet beyond the router's WAN: its gateway and two server addresses."""
    return router.internet


def evidence_folder(config: pytest.Config, node) -> Path:
    root = Path(setting(config, "artifacts"))
    if not root.is_absolute():
        root = Path(config.rootpath) / root
    module = Path(node.path).resolve()
    try:
        module = module.relative_to(Path(config.rootpath).resolve())
    except ValueError:
        module = Path(module.name)
    name = re.sub(r"[^\w.=+-]+", "_", node.name).strip("_")
    return root / module.with_suffix("") / name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    current = item.stash.get(CURRENT, None)
    if current is not None and report.failed and report.when in ("setup", "call"):
        files = keep_evidence(current)
        current["kept"] = True
        lines = [f"natbox kept the evidence of this failure in {current['folder']}/:"]
        lines += [f"  {name}" for name in files]
        report.sections.append(("natbox evidence", "\n".join(lines)))
        report.user_properties.append(("natbox_evidence", str(current["folder"])))
    return report


def keep_evidence(current: dict) -> list[str]:
    """The test's slice of each link capture, the router's own evidence, the hosts' logs."""
    box: Router = current["router"]
    folder: Path = current["folder"]
    folder.mkdir(parents=True, exist_ok=True)
    end = time.time() + 1.0  # tcpdump -U writes within a moment
    time.sleep(0.5)
    # ... but a loaded host may hold its last packets longer: wait (at most 2 s more) until
    # the captures stop growing.
    sizes: dict[str, int] | None = None
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        now = {link: p.stat().st_size for link, p in box.links.items() if p.exists()}
        if now == sizes:
            break
        sizes = now
        time.sleep(0.3)
    for link, capture in box.links.items():
        with contextlib.suppress(OSError):
            slice_capture(capture, folder / f"{link}.pcap", current["start"] - 0.5, end)
    for name, data in box.evidence().items():
        (folder / name).write_bytes(data)
    state = {"mode": box.mode, "lan_clients": [h.address for h in box.lan_clients]}
    try:
        state["config"] = box.api.get("/config")
        state["counters"] = box.counters()
    except Exception as error:  # the router may be what failed: say so, keep the rest
        state["unreadable"] = str(error)
    (folder / "router.json").write_text(json.dumps(state, indent=2, default=str))
    return sorted(p.name for p in folder.iterdir())
