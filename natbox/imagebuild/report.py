"""Size report by component: which package (or part of the project) the bytes belong to."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path


def component_of(rel: str, owners: dict[str, str], tags: dict[str, str]) -> str:
    if rel in tags:
        return tags[rel]
    if rel in owners:
        return owners[rel]
    if rel.endswith(".pyc"):
        src = rel[:-1]
        if src in owners:
            return owners[src]
        if src in tags:
            return tags[src]
    if rel.startswith("lib/modules/"):
        return "kernel modules"
    return "other"


def components(root: Path, owners: dict[str, str], tags: dict[str, str]) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            sizes[component_of(str(p.relative_to(root)), owners, tags)] += p.stat().st_size
    return dict(sizes)


def format_report(
    comp: dict[str, int],
    unstripped: dict[str, int],
    dropped: set[str],
    removed: dict[str, int],
    payloads: dict[str, int],
    firmware: int,
    budget: int,
) -> str:
    lines = [
        "size report (uncompressed bytes in the root filesystem)",
        f"  {'component':32} {'unstripped':>12} {'in image':>12}",
    ]
    for name in sorted(set(comp) | set(unstripped), key=lambda n: -comp.get(n, 0)):
        before = unstripped.get(name)
        after = "dropped" if name in dropped else comp.get(name, 0)
        lines.append(f"  {name:32} {before if before is not None else '-':>12} {after:>12}")
    lines.append(f"  {'total':32} {sum(unstripped.values()):>12} {sum(comp.values()):>12}")
    lines.append("largest strip rules (bytes removed)")
    for glob, n in sorted(removed.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"  {glob:60} {n:>10}")
    lines.append("firmware payloads (compressed bytes)")
    for name, n in payloads.items():
        lines.append(f"  {name:32} {n:>12}")
    lines.append(
        f"  {'firmware file':32} {firmware:>12}  budget {budget} ({100 * firmware / budget:.0f}%)"
    )
    return "\n".join(lines)
