"""Run the build steps in order; a step whose inputs did not change is skipped.

Each step's inputs are hashed into a key stored in build/image/<board>/<step>.stamp; a step
runs when its key (which includes the keys of the steps it depends on) changed.

``--version`` (``make image VERSION=0.2.0``) builds the same image under another version, to
test updates with: in build/image/<board>@<version>/, so the default build stays as it was,
into out/<board>-<version>.fw. The packages and kernel steps do not depend on the version;
such a build takes them from the default build directory (``Build.shared_dir``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from natbox.argtypes import OneLineParser
from natbox.firmware import kernel_payload
from natbox.firmware.keys import load_or_create_dev_key, public_pem, sign
from natbox.imagebuild import busybox, config, cpio, fetch, kernel, overlay, packages, pycompile
from natbox.imagebuild.report import components, format_report
from natbox.imagebuild.util import fresh_dir, hash_strings, hash_tree, source_date_epoch
from router.firmware import format as fwformat

CODE_HASH = hash_tree(Path(__file__).parent)
PY_DIRS = ["usr/lib/python3.11", "usr/lib/python3/dist-packages"]
STEPS = ["fetch", "packages", "kernel", "target", "initramfs", "firmware"]


@dataclass
class Build:
    tree: Path
    cfg: config.BoardConfig
    build_dir: Path
    out_dir: Path
    key_dir: Path
    quiet: bool = False
    epoch: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    step_no: int = 0
    # Where the version-independent steps (packages, kernel) live; None: in build_dir.
    shared_dir: Path | None = None
    # In the firmware's file name: a compat_version override of the defconfig's (config).
    compat_tag: str = ""

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(f"      {msg}", flush=True)

    @property
    def common_dir(self) -> Path:
        return self.shared_dir or self.build_dir

    def step(self, name: str, key: str, outputs: list[Path], fn, where: Path | None = None) -> None:
        self.step_no += 1
        stamp = (where or self.build_dir) / f"{name}.stamp"
        self.keys[name] = key
        label = f"[{self.step_no}/{len(STEPS)}] {name}"
        if stamp.exists() and stamp.read_text() == key and all(p.exists() for p in outputs):
            if not self.quiet:
                print(f"{label}: up to date", flush=True)
            return
        if not self.quiet:
            print(f"{label} ...", flush=True)
        t0 = time.monotonic()
        stamp.unlink(missing_ok=True)
        fn()
        stamp.write_text(key)
        self.ran.append(name)
        if not self.quiet:
            print(f"{label}: done in {time.monotonic() - t0:.1f} s", flush=True)

    @property
    def firmware_path(self) -> Path:
        return self.out_dir / f"{self.cfg.board}-{self.cfg.version}{self.compat_tag}.fw"

    # -- steps ------------------------------------------------------------------------------
    def run(self) -> Path:
        """Build what is stale. One build at a time per tree: two processes (two test runs
        side by side) share the common steps' directories; the second waits, then finds
        them done."""
        self.common_dir.mkdir(parents=True, exist_ok=True)
        with open(self.common_dir.parent / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._run()

    def _run(self) -> Path:
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self.common_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.cfg
        # fetch keeps its own cache outside the tree (it survives `make clean`).
        self.step_no += 1
        if not self.quiet:
            print(f"[1/{len(STEPS)}] fetch ...", flush=True)
        t0 = time.monotonic()
        f = fetch.fetch(cfg, self.log)
        if not self.quiet:
            print(f"[1/{len(STEPS)}] fetch: done in {time.monotonic() - t0:.1f} s", flush=True)
        self.keys["fetch"] = f.key

        common = self.common_dir
        pkg_dir, pkg_meta = common / "packages", common / "packages.json"
        recipes = hash_tree(self.tree / "image" / "package")
        self.step(
            "packages",
            hash_strings(f.key, recipes, cfg.strip_global, cfg.pyc_only, CODE_HASH),
            [pkg_dir, pkg_meta],
            lambda: self._packages(f, pkg_dir, pkg_meta),
            common,
        )

        kdir = common / "kernel"
        self.step(
            "kernel",
            hash_strings(f.kernel_deb.name, cfg.kernel_modules, cfg.kernel_nat_modules, CODE_HASH),
            [kdir / "vmlinux.zst", kdir / "modules.json"],
            lambda: self._kernel(f.kernel_deb, kdir),
            common,
        )

        target, keyring = self.build_dir / "target", self.build_dir / "keyring"
        signing_key = self._signing_key()
        project = [hash_tree(self.tree / p) for p in cfg.project_python_packages]
        self.step(
            "target",
            hash_strings(
                self.keys["packages"],
                self.keys["kernel"],
                hash_tree(self.tree / cfg.overlay),
                project,
                hash_tree(self.tree / "image" / "keyring"),
                public_pem(signing_key.public_key()),
                self.epoch,
                cfg.raw,
                CODE_HASH,
            ),
            [target, keyring],
            lambda: self._target(pkg_dir, pkg_meta, kdir, target, keyring, signing_key),
        )

        initramfs = self.build_dir / f"rootfs.cpio.{cfg.compression}"
        table = self.tree / cfg.device_table if cfg.device_table else None
        self.step(
            "initramfs",
            hash_strings(
                self.keys["target"],
                cfg.compression,
                cfg.initramfs_parts,
                table.read_text() if table else "",
                CODE_HASH,
            ),
            [initramfs],
            lambda: self._initramfs(target, table, initramfs),
        )

        fw = self.firmware_path
        self.step(
            "firmware",
            hash_strings(
                self.keys["initramfs"],
                self.keys["kernel"],
                public_pem(signing_key.public_key()),
                CODE_HASH,
            ),
            [fw],
            lambda: self._firmware(kdir / "vmlinux.zst", initramfs, signing_key, fw),
        )
        return fw

    def _signing_key(self):
        key, created = load_or_create_dev_key(self.key_dir)
        if created:
            self.log(f"generated development key {self.key_dir}/dev-ed25519.key (not committed)")
        return key

    def _packages(self, f: fetch.Fetched, pkg_dir: Path, meta: Path) -> None:
        fresh_dir(pkg_dir)
        owners, unstripped = packages.extract(list(f.rootfs_debs), self.cfg, pkg_dir)
        present = {packages.package_name(d) for d in f.rootfs_debs} - {
            n for n in unstripped if self.cfg.recipe(n).drop
        }
        self.log(
            f"extracted {len(present)} packages ({sum(unstripped.values())} bytes; "
            f"{len(unstripped) - len(present)} dropped by recipe)"
        )
        removed = packages.strip(pkg_dir, packages.strip_patterns(self.cfg, present))
        self.log(f"stripped {sum(removed.values())} bytes with {len(removed)} rules")
        for name in sorted(present):
            if self.cfg.recipe(name).links == "busybox":
                links = busybox.install_links(pkg_dir, self.cfg.recipe(name).strip)
                self.log(f"busybox: {links} applet links")
        n = pycompile.compile_tree(pkg_dir, PY_DIRS, self.cfg.pyc_only)
        self.log(
            f"compiled {n} modules with the target's python3.11"
            + (" (sources removed)" if self.cfg.pyc_only else "")
        )
        owners = {
            k: v
            for k, v in owners.items()
            if (pkg_dir / k).exists() or (pkg_dir / (k + "c")).exists()
        }
        versions = {packages.package_name(d): d.name.split("_")[1] for d in f.rootfs_debs}
        meta.write_text(
            json.dumps(
                {
                    "owners": owners,
                    "unstripped": unstripped,
                    "removed": removed,
                    "versions": versions,
                },
                sort_keys=True,
            )
        )

    def _kernel(self, deb: Path, kdir: Path) -> None:
        cfg = self.cfg
        k = kernel.prepare(deb, cfg.kernel_modules + cfg.kernel_nat_modules, kdir)
        paths = [str(m) for m in k.modules]  # in the order asked for: the boot's, then NAT's
        boot = len(cfg.kernel_modules)
        (kdir / "modules.json").write_text(
            json.dumps({"release": k.release, "modules": paths[:boot], "nat": paths[boot:]})
        )
        self.log(
            f"{k.release}: vmlinuz {k.bzimage_bytes} bytes, as zstd ELF "
            f"{k.vmlinux_zst.stat().st_size} bytes, {len(k.modules)} modules"
        )

    def _target(
        self, pkg_dir: Path, pkg_meta: Path, kdir: Path, target: Path, keyring: Path, signing_key
    ) -> None:
        cfg = self.cfg
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(pkg_dir, target, symlinks=True)
        tags: dict[str, str] = {}
        kmeta = json.loads((kdir / "modules.json").read_text())
        for rel in kmeta["modules"] + kmeta["nat"]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kdir / rel, target / rel)
        for rel in overlay.copy_overlay(self.tree / cfg.overlay, target):
            tags[rel] = f"natbox {cfg.overlay}/ skeleton"
        for rel in overlay.install_project(self.tree, cfg.project_python_packages, target):
            tags[rel] = "natbox python (" + " ".join(cfg.project_python_packages) + ")"
        n = pycompile.compile_tree(
            target, [str(overlay.SITE / p) for p in cfg.project_python_packages], cfg.pyc_only
        )
        self.log(f"installed {' '.join(cfg.project_python_packages)}: {n} modules compiled")
        files = overlay.generated_files(cfg, kmeta["release"], kmeta["modules"], self.epoch,
                                        kmeta["nat"])  # fmt: skip
        fresh_dir(keyring)
        for pub in sorted((self.tree / "image" / "keyring").glob("*.pub")):
            shutil.copyfile(pub, keyring / pub.name)
        revoked = self.tree / "image" / "keyring" / "revoked"
        if revoked.exists():
            shutil.copyfile(revoked, keyring / "revoked")
        if cfg.dev_key:
            (keyring / "dev-ed25519.pub").write_bytes(public_pem(signing_key.public_key()))
        for p in sorted(keyring.iterdir()):
            files[f"etc/natbox/keyring/{p.name}"] = p.read_text()
        overlay.write_files(target, files)
        for rel in files:
            tags[rel] = "generated"
        check = pycompile.target_python(
            target,
            "-c",
            "import nat, flask, ssl, json, hashlib, router.update.service, "
            "router.firmware.keyring; print(flask.__version__)",
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"target python cannot import nat and flask:\n{check.stderr}")
        self.log(f"target python3.11 imports nat and flask {check.stdout.strip()}")
        meta = json.loads(pkg_meta.read_text())
        (self.build_dir / "components.json").write_text(
            json.dumps(components(target, meta["owners"], tags), sort_keys=True)
        )

    def _initramfs(self, target: Path, table: Path | None, out: Path) -> None:
        nodes, modes = cpio.parse_device_table(table.read_text()) if table else ([], {})
        entries = cpio.entries_from_tree(target, modes) + nodes
        parts = [
            cpio.write_newc(run, self.epoch)
            for run in cpio.split(entries, self.cfg.initramfs_parts)
        ]
        raw = b"".join(parts)
        self.log(
            f"cpio: {len(entries)} entries, {len(raw)} bytes in {len(parts)} archives; "
            f"compressing ({self.cfg.compression})"
        )
        data = cpio.compress_parallel(parts, self.cfg.compression)
        out.write_bytes(data)
        (self.build_dir / "rootfs.cpio.size").write_text(str(len(raw)))
        self.log(f"initramfs: {len(data)} bytes")

    def _firmware(self, kernel_zst: Path, initramfs: Path, key, out: Path) -> None:
        cfg = self.cfg
        parts = [
            fwformat.Payload("kernel", kernel_zst.read_bytes(), kernel_payload.VMLINUX_ZSTD),
            fwformat.Payload("rootfs", initramfs.read_bytes(), f"initramfs-cpio-{cfg.compression}"),
        ]
        manifest = fwformat.Manifest(
            board=cfg.board,
            compatible=cfg.compatible,
            version=cfg.version,
            compat_version=cfg.compat_version,
            build_id=fwformat.build_id(parts, cfg.version),
            created=self.epoch,
            payloads=tuple(p.describe() for p in parts),
            extra={"kernel_cmdline": cfg.kernel_cmdline},
        )
        kid, sig = sign(key, manifest.to_bytes())
        data = fwformat.pack(manifest, parts, kid, sig)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)
        self.log(f"signed with key {kid.hex()}; build id {manifest.build_id}")

    def size_report(self) -> str:
        meta = json.loads((self.common_dir / "packages.json").read_text())
        comp = json.loads((self.build_dir / "components.json").read_text())
        initramfs = self.build_dir / f"rootfs.cpio.{self.cfg.compression}"
        payloads = {
            "kernel (ELF, zstd)": (self.common_dir / "kernel" / "vmlinux.zst").stat().st_size,
            f"rootfs (initramfs, {self.cfg.compression})": initramfs.stat().st_size,
        }
        dropped = {n for n in meta["unstripped"] if self.cfg.recipe(n).drop}
        return format_report(
            comp,
            meta["unstripped"],
            dropped,
            meta["removed"],
            payloads,
            self.firmware_path.stat().st_size,
            self.cfg.max_firmware_bytes,
        )

    def stats(self) -> dict[str, int]:
        meta = json.loads((self.common_dir / "packages.json").read_text())
        comp = json.loads((self.build_dir / "components.json").read_text())
        return {
            "firmware_bytes": self.firmware_path.stat().st_size,
            "unstripped_bytes": sum(meta["unstripped"].values()),
            "rootfs_bytes": sum(comp.values()),
            "initramfs_bytes": (self.build_dir / f"rootfs.cpio.{self.cfg.compression}")
            .stat()
            .st_size,
        }


def make_build(
    tree: Path,
    board: str = config.DEFAULT_BOARD,
    build_dir: Path | None = None,
    out_dir: Path | None = None,
    key_dir: Path | None = None,
    quiet: bool = False,
    version: str | None = None,
    compat_version: str | None = None,
    test_fault: str | None = None,
) -> Build:
    """The build of ``board``, or of it under another version / compat_version (ValueError
    when one is not dotted numbers). An explicit ``build_dir`` holds every step."""
    default = config.load(tree, board)
    cfg = config.override(default, version, compat_version, test_fault)
    images = tree / "build" / "image"
    own = images / config.variant_dir_name(default, cfg)
    shared = images / default.board if build_dir is None and own.name != default.board else None
    key_dir = key_dir or Path(os.environ.get("NATBOX_KEY_DIR") or tree / "keys")
    return Build(
        tree,
        cfg,
        build_dir or own,
        out_dir or tree / "out",
        key_dir,
        quiet,
        source_date_epoch(tree),
        shared_dir=shared,
        compat_tag=config.compat_tag(default, cfg),
    )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="natbox firmware build", description=__doc__)
    p.add_argument("--tree", type=Path, default=Path.cwd())
    p.add_argument("--board", default=config.DEFAULT_BOARD)
    p.add_argument("--version", type=config.version_arg, help="build under this version")
    p.add_argument(
        "--compat-version", type=config.version_arg, help="and this compat_version (a bump)"
    )
    p.add_argument("--test-fault", choices=config.TEST_FAULTS, help="a test firmware that fails")
    p.add_argument("--build-dir", type=Path)
    p.add_argument("--out-dir", type=Path)
    p.add_argument("--key-dir", type=Path)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    t0 = time.monotonic()
    b = make_build(
        a.tree.resolve(),
        a.board,
        a.build_dir,
        a.out_dir,
        a.key_dir,
        a.quiet,
        version=a.version,
        compat_version=a.compat_version,
        test_fault=a.test_fault,
    )
    fw = b.run()
    print(b.size_report())
    size = fw.stat().st_size
    print(
        f"built in {time.monotonic() - t0:.1f} s (SOURCE_DATE_EPOCH={b.epoch}); "
        f"sha256 {sha256_file(fw)}"
    )
    if size > b.cfg.max_firmware_bytes:
        print(
            f"ERROR: {fw} is {size} bytes, over the {b.cfg.max_firmware_bytes} budget",
            file=sys.stderr,
        )
        return 1
    print(fw.relative_to(Path.cwd()) if fw.is_relative_to(Path.cwd()) else fw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
