"""nat/ is sans-IO: no module in it may import anything that does I/O or reads a clock, any
other package of ours, or any third-party package. Imports are read with ``ast``, including
those inside functions, so a lazy import cannot slip through."""

from __future__ import annotations

import ast
from pathlib import Path

import nat

NAT = Path(nat.__file__).parent
REPO = NAT.parent

# The standard library nat/ may use: computation only. ``random`` is allowed because the
# engine only uses seeded generators (replayable port allocation); ``json`` is pure.
PURE_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "array",
        "bisect",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "heapq",
        "ipaddress",
        "itertools",
        "json",
        "math",
        "operator",
        "random",
        "re",
        "unicodedata",
        "string",
        "struct",
        "typing",
    }
)
# Lazy exports (PEP 562) in the package itself; test_lazy_exports_load_only_nat checks them.
IMPORTLIB_ALLOWED_IN = frozenset({"nat/__init__.py"})
# Named for clearer messages; anything off PURE_STDLIB is refused anyway.
DOES_IO = frozenset(
    {
        "asyncio",
        "ctypes",
        "datetime",
        "fcntl",
        "http",
        "io",
        "mmap",
        "os",
        "pathlib",
        "select",
        "selectors",
        "shutil",
        "signal",
        "socket",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "time",
        "urllib",
    }
)
OUR_OTHER_PACKAGES = frozenset({"natbox", "webui", "router", "bench"})


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source``, at any depth; relative imports are
    reported as ``nat`` (they stay inside the package)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "nat" if node.level else node.module or ""))
    return found


def violations(source: str, where: str) -> list[str]:
    problems = []
    for line, module in imported_modules(source):
        top = module.split(".")[0]
        if top == "nat" or top in PURE_STDLIB:
            continue
        if top == "importlib" and where in IMPORTLIB_ALLOWED_IN:
            continue
        if top in DOES_IO:
            why = "does I/O or reads a clock"
        elif top in OUR_OTHER_PACKAGES:
            why = "is another package of ours (nat/ must stand alone)"
        else:
            why = "is not on the pure standard-library list (third-party or unreviewed)"
        problems.append(f"{where}:{line}: imports {module}, which {why}")
    return problems


def nat_sources() -> list[tuple[str, Path]]:
    sources = []
    for path in sorted(NAT.rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        sources.append((where, path))
    return sources


def test_nat_imports_nothing_that_does_io():
    assert len(nat_sources()) > 20  # the scan really found the package
    problems = []
    for where, path in nat_sources():
        problems.extend(violations(path.read_text(encoding="utf-8"), where))
    assert problems == []


def test_the_scanner_catches_io_ours_and_third_party_even_inside_functions():
    source = (
        "import socket\n"
        "from webui import x\n"
        "def later():\n"
        "    import scapy.all\n"
        "    from os import path\n"
        "from . import mapping\n"
        "import struct\n"
    )
    problems = violations(source, "nat/example.py")
    assert [p.split(": imports ")[1].split(",")[0] for p in problems] == [
        "socket",
        "webui",
        "scapy.all",
        "os",
    ]
    assert "does I/O" in problems[0] and "package of ours" in problems[1]
    assert violations("import importlib\n", "nat/engine.py")  # only the package may


def test_lazy_exports_load_only_nat():
    assert all(module.startswith("nat.") for module in nat._EXPORTS.values())
