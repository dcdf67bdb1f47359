"""Build the images where there is a Docker engine, or the CPU image with buildah where not.

    python3 images/build.py [--engine auto|docker|buildah] [--cpu-only] [--if-possible] [--json]

`make images` runs it as it is; `make cpu-image` (before the suite) with `--engine buildah
--if-possible`. With a working Docker engine (`docker info` answers, not just a client
binary) it runs the two `docker build`s, as users do. With only buildah (root, `--isolation
chroot`; storage in Store) it builds images/cpu.Dockerfile unchanged on a local base: no
registry of base images may be reachable, so an equivalent of python:3.11-slim-bookworm
(Debian bookworm's own Python 3.11, python3-venv, `python` on the PATH, Debian's slim
settings) is made with debootstrap from this machine's apt mirror, committed once and
reused while what made it is unchanged, and given to `buildah bud --from`. pip inside the
build uses this machine's pip sources and CA certificate (`pip config list`), mounted
read-only into each RUN, so nothing of them is baked into the image (PipSources). With
neither engine it says so in one line. docs/images.md has the sizes and times.

Standard library only: it runs before any environment exists. tests/test_images_build.py
builds through it and runs the CPU steps inside the result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
CPU_TAG = f"fgsgl-cpu:{VERSION}"
GPU_TAG = f"fgsgl-gpu:{VERSION}"

# The local stand-in for python:3.11-slim-bookworm: what that image holds beside its own
# Python (CA certificates, netbase, tzdata), with Debian's python3 (3.11 in bookworm).
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "netbase")
BASE_PACKAGES += ("tzdata",)
# Debian's own container images (debuerreotype; python:3.11-slim-bookworm is built on
# debian:bookworm-slim) configure apt and dpkg to keep no package caches, indexes or
# translations, and no docs but the copyrights, man pages or locales: so does this base,
# since a Dockerfile's `apt-get install` relies on it (no `apt-get clean` there)
SLIM_FILES = {
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/apt/apt.conf.d/docker-autoremove-suggests": (
        'Apt::AutoRemove::SuggestsImportant "false";\n'
    ),
    "etc/dpkg/dpkg.cfg.d/docker": "".join(
        f"path-{rule}\n"
        for rule in (
            "exclude /usr/share/doc/*",
            "include /usr/share/doc/*/copyright",
            "exclude /usr/share/groff/*",
            "exclude /usr/share/info/*",
            "exclude /usr/share/linda/*",
            "exclude /usr/share/lintian/*",
            "exclude /usr/share/locale/*",
            "include /usr/share/locale/locale.alias",
            "exclude /usr/share/man/*",
        )
    ),
}
# what debootstrap left that those rules (written after it ran) would have kept out, and
# what a container gets from its runtime: pruned, but for the paths kept
BASE_PRUNE = (
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "var/log/*",
    "usr/share/doc/*/*",
    "usr/share/groff/*",
    "usr/share/info/*",
    "usr/share/linda/*",
    "usr/share/lintian/*",
    "usr/share/locale/*",
    "usr/share/man/*",
    "dev/*",
    "etc/hostname",
    "etc/resolv.conf",
)
BASE_KEEP = ("usr/share/doc/*/copyright", "usr/share/locale/locale.alias")
DEBOOTSTRAP = ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES)]
BASE_RECIPE = 1  # bump when the base's recipe changes in a way its inputs do not show


def overlay_works(where: Path) -> bool:
    """Whether an overlay mount works here (a kernel with overlayfs, a backing filesystem
    it accepts, the right to mount), tried in a mount namespace of its own."""
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where, prefix="overlay-probe-") as tmp:
        for sub in ("lower", "upper", "work", "merged"):
            (Path(tmp) / sub).mkdir()
        options = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
        probe = ["unshare", "--mount", "--", "mount", "-t", "overlay", "overlay", "-o"]
        probe += [options, f"{tmp}/merged"]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@dataclass
class Store:
    """Where buildah keeps images and layers: FGSGL_IMAGE_STORE, default
    ~/.cache/fgsgl/images, out of the checkout (`make clean` keeps the layer cache).

    The driver is overlay where overlay mounts work (layers are diffs; a commit writes only
    what a step changed), else vfs, which needs no mounts but stores every layer as a full
    copy of the tree: with this image's ~20 layers of up to 3.8 GB that is tens of GB.
    FGSGL_IMAGE_DRIVER chooses one."""

    root: Path = field(
        default_factory=lambda: Path(
            os.environ.get("FGSGL_IMAGE_STORE")
            or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fgsgl/images"
        )
    )
    driver: str = ""

    def __post_init__(self) -> None:
        if not self.driver:
            chosen = os.environ.get("FGSGL_IMAGE_DRIVER")
            self.driver = chosen or ("overlay" if overlay_works(self.root) else "vfs")

    def command(self, *args: str) -> list[str]:
        storage = ["--root", str(self.root / f"storage-{self.driver}")]
        storage += ["--runroot", str(self.root / f"run-{self.driver}")]
        return ["buildah", *storage, "--storage-driver", self.driver, *args]

    def buildah(self, *args: str, capture: bool = False, **kw) -> subprocess.CompletedProcess:
        cmd = self.command(*args)
        out = subprocess.run(cmd, text=True, capture_output=capture, check=False, **kw)
        if out.returncode:
            detail = (out.stderr or "").strip().splitlines()[-5:] if capture else []
            raise SystemExit(f"buildah {' '.join(args[:3])}... failed ({out.returncode}): {detail}")
        return out

    def stream(self, *args: str) -> None:
        """Run a long buildah command, its output to stderr without pip's notes about the
        local index folders that hold no page for a project (as the Makefile's QUIET)."""
        tail: list[str] = []
        with subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "is ignored: it is neither a file nor a directory" not in line:
                    sys.stderr.write(line)
                    tail = [*tail[-19:], line.rstrip()]
        if proc.returncode:
            raise SystemExit(f"buildah {args[0]} failed ({proc.returncode}):\n" + "\n".join(tail))

    def exists(self, image: str) -> bool:
        cmd = self.command("inspect", "--type", "image", image)
        return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def docker_engine() -> bool:
    """A Docker client that reaches an engine (a client alone cannot build)."""
    if not shutil.which("docker"):
        return False
    out = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=60)
    return out.returncode == 0


def buildah_unavailable() -> str | None:
    """Why a buildah build cannot run here, or None when it can."""
    missing = [tool for tool in ("buildah", "debootstrap") if not shutil.which(tool)]
    if missing:
        return f"{' and '.join(missing)} not installed (make image-tools installs them as root)"
    if os.geteuid() != 0:
        return "buildah with --isolation chroot and debootstrap need root here"
    probe = subprocess.run(
        ["unshare", "--mount", "--", "mount", "-t", "tmpfs", "none", "/mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        return f"mounting is not allowed here: {probe.stderr.strip()}"
    return None


def apt_mirror(etc: Path = Path("/etc/apt")) -> str:
    """This machine's Debian mirror for SUITE (sources.list or deb822 .sources)."""
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in [p for p in files if p.is_file()]:
        for line in path.read_text().splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(
                (k.strip().lower(), v.strip())
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                if v and not k.startswith("#")
            )
            if (
                "deb" in fields.get("types", "").split()
                and SUITE in fields.get("suites", "").split()
            ):
                return fields["uris"].split()[0]
    raise SystemExit(f"{etc}/sources.list*: no 'deb' source for Debian {SUITE} to debootstrap from")


def base_image(store: Store, log=print) -> str:
    """The local python:3.11-slim-bookworm stand-in, made once per recipe and mirror."""
    mirror = apt_mirror()
    tool = subprocess.run(["debootstrap", "--version"], capture_output=True, text=True)
    recipe = {
        "suite": SUITE,
        "mirror": mirror,
        "packages": BASE_PACKAGES,
        "prune": BASE_PRUNE,
        "keep": BASE_KEEP,
        "files": SLIM_FILES,
        "debootstrap": tool.stdout.strip(),
        "recipe": BASE_RECIPE,
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    tag = f"localhost/fgsgl-base:{SUITE}-{key}"
    if store.exists(tag):
        return tag
    log(f"==> debootstrap {SUITE} from {mirror} ({', '.join(BASE_PACKAGES)}) -> {tag}")
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store.root, prefix="rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [*DEBOOTSTRAP, SUITE, str(rootfs), mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        keep = {path for pattern in BASE_KEEP for path in rootfs.glob(pattern)}
        for pattern in BASE_PRUNE:
            for path in sorted(set(rootfs.glob(pattern)) - keep):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:  # a file, or one seen again through a symlinked doc folder
                    path.unlink(missing_ok=True)
        for name, text in SLIM_FILES.items():
            (rootfs / name).parent.mkdir(parents=True, exist_ok=True)
            (rootfs / name).write_text(text)
        version = subprocess.run(
            ["chroot", str(rootfs), "python", "--version"], capture_output=True, text=True
        )
        if not version.stdout.startswith("Python 3.11."):
            raise SystemExit(f"{SUITE} base: `python --version` gave {version.stdout!r}")
        container = store.buildah("from", "scratch", capture=True).stdout.strip()
        try:
            mount = store.buildah("mount", container, capture=True).stdout.strip()
            subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True)
            store.buildah("unmount", container, capture=True)
            store.buildah(
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--cmd",
                "python3",
                "--created-by",
                f"debootstrap --variant=minbase {SUITE} (the fgsgl base, images/build.py)",
                "--label",
                f"fgsgl.base-recipe={json.dumps(recipe, sort_keys=True)}",
                container,
                capture=True,
            )
            store.buildah("commit", "--rm", "--quiet", container, tag, capture=True)
        except BaseException:
            subprocess.run(store.command("rm", container), capture_output=True, check=False)
            raise
    return tag


@dataclass
class PipSources:
    """This machine's pip sources, as a pip.conf for the build and the folders it names."""

    index_url: str  # as the build sees it
    conf: str
    mounts: dict[str, str]  # host path -> where the build sees it (under BUILD_HOME)


# Each RUN of the buildah build gets a fresh host folder as root's HOME, holding the pip.conf
# (pip's user config, ~/.config/pip/pip.conf) and, mounted inside it, the local index folders
# and CA certificate it names. /root exists in the base, so the mount leaves no mount point
# behind in a layer (targets buildah creates for -v stay in the image as empty stubs), and
# nothing a RUN writes to HOME lands in the image.
BUILD_HOME = "/root"
SOURCES = f"{BUILD_HOME}/pip-sources"


def pip_sources(python: str = sys.executable) -> PipSources:
    """Read `pip config list` (files and PIP_* variables): index, extra indexes, find-links,
    CA certificate and timeout; the local folders among them are mounted read-only."""
    out = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():  # "global.cert='/etc/...'", ":env:.find-links='/opt/wheels'"
        m = re.fullmatch(r"(:env:|global|install)\.([a-z-]+)='(.*)'", line.strip())
        if m and (m.group(1) != "global" or m.group(2) not in values):
            values[m.group(2)] = m.group(3)  # PIP_* and [install] override [global]
    mounts: dict[str, str] = {}

    def inside(value: str, index: bool = False) -> str | None:
        """The value as the build sees it; None for a local path that does not exist."""
        url = value.startswith("file:")
        path = urlparse(value).path if url else value
        if not path.startswith("/"):
            return value  # a remote index or a host name
        if not Path(path).exists():
            return None
        # a file index's pages link up and across (simple/NAME/ -> ../../files/)
        host = Path(path).resolve().parent if index else Path(path).resolve()
        mounts[str(host)] = f"{SOURCES}{host}"
        return f"file://{SOURCES}{Path(path).resolve()}" if url else f"{SOURCES}{path}"

    index_url = inside(values.get("index-url", "https://pypi.org/simple"), index=True)
    if index_url is None:
        raise SystemExit(f"pip config: index-url {values['index-url']} is a missing folder")
    lines = ["[global]", f"index-url = {index_url}"]
    for key in ("extra-index-url", "find-links", "trusted-host"):
        index = key == "extra-index-url"
        kept = [v for v in (inside(v, index) for v in values.get(key, "").split()) if v]
        if kept:
            lines.append(f"{key} = {' '.join(kept)}")
    if "cert" in values and (cert := inside(values["cert"])):
        lines.append(f"cert = {cert}")
    if timeout := values.get("default-timeout") or values.get("timeout"):
        lines.append(f"timeout = {timeout}")
    return PipSources(index_url, "\n".join(lines) + "\n", mounts)


def build_cpu(store: Store, log=print) -> float:
    """buildah bud of images/cpu.Dockerfile on the local base; returns seconds taken."""
    start = time.monotonic()
    base = base_image(store, log)
    sources = pip_sources()
    home = store.root / "build-home"
    shutil.rmtree(home, ignore_errors=True)
    (home / ".config/pip").mkdir(parents=True)
    (home / ".config/pip/pip.conf").write_text(sources.conf)
    volumes = [f"{home}:{BUILD_HOME}"] + [f"{h}:{c}:ro" for h, c in sources.mounts.items()]
    log(f"==> buildah bud images/cpu.Dockerfile --from {base} -> {CPU_TAG}")
    try:
        store.stream(
            "bud",
            "--layers",
            "--isolation",
            "chroot",
            "--from",
            base,
            "-f",
            str(ROOT / "images/cpu.Dockerfile"),
            "--ignorefile",
            str(ROOT / "images/cpu.Dockerfile.dockerignore"),
            # download.pytorch.org is one more index; here the machine's own sources (and
            # the CPU torch build they hold) stand in for it
            "--build-arg",
            f"TORCH_INDEX={sources.index_url}",
            *(arg for v in volumes for arg in ("--volume", v)),
            "-t",
            CPU_TAG,
            str(ROOT),
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return time.monotonic() - start


def report(store: Store, image: str = CPU_TAG, top: int = 6) -> dict:
    """The image's size and its largest layers, each named by the instruction that made it."""
    info = json.loads(store.buildah("inspect", "--type", "image", image, capture=True).stdout)
    layers_json = store.root / f"storage-{store.driver}/{store.driver}-layers/layers.json"
    sizes = {
        layer.get("diff-digest"): layer.get("diff-size", 0)
        for layer in json.loads(layers_json.read_text())
    }
    history = [h for h in info["OCIv1"]["history"] if not h.get("empty_layer")]
    diff_ids = info["OCIv1"]["rootfs"]["diff_ids"]
    layers = [
        {"size": sizes.get(d, 0), "created_by": instruction(h.get("created_by", ""))}
        for d, h in zip(diff_ids, history, strict=False)
    ]
    total = sum(layer["size"] for layer in layers)
    return {
        "image": image,
        "size": total,
        "layers": len(layers),
        "largest": sorted(layers, key=lambda layer: -layer["size"])[:top],
    }


def instruction(created_by: str) -> str:
    """A layer's history entry as its Dockerfile line: without the build args buildah
    records before a RUN ("|1 TORCH_INDEX=... /bin/sh -c ...") or its "#(nop)" mark."""
    text = re.sub(r"\s+", " ", created_by).strip()
    text = re.sub(r"^\|\d+ (\S+=\S* )*", "", text)
    if text.startswith("/bin/sh -c #(nop) "):
        return text.removeprefix("/bin/sh -c #(nop) ")
    return "RUN " + text.removeprefix("/bin/sh -c ") if text.startswith("/bin/sh -c ") else text


def format_report(rep: dict) -> str:
    lines = [f"{rep['image']}: {rep['size'] / 1e9:.2f} GB in {rep['layers']} layers; largest:"]
    for layer in rep["largest"]:
        lines.append(f"  {layer['size'] / 1e6:8.0f} MB  {layer['created_by'][:110]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine",
        choices=("auto", "docker", "buildah"),
        default="auto",
        help="auto (default): Docker where an engine answers, else buildah",
    )
    parser.add_argument("--cpu-only", action="store_true", help="Docker: only the CPU image")
    parser.add_argument(
        "--if-possible",
        action="store_true",
        help="where it cannot build here, say why in one line and succeed (make test)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.engine != "buildah" and docker_engine():
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        for tag, name in [(CPU_TAG, "cpu")] + ([] if args.cpu_only else [(GPU_TAG, "gpu")]):
            cmd = ["docker", "build", "-f", f"images/{name}.Dockerfile", "-t", tag, "."]
            subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        return 0
    no_docker = "no Docker engine (`docker info` fails)"
    if args.engine == "docker":
        why = no_docker
    elif not shutil.which("buildah"):
        why = "no buildah" if args.engine == "buildah" else f"{no_docker} and no buildah either"
    else:
        why = buildah_unavailable()
        why = why and (why if args.engine == "buildah" else f"{no_docker} and {why}")
    if why:
        print(f"make images: {why}", file=sys.stderr)
        return 0 if args.if_possible else 1
    store = Store()
    seconds = build_cpu(store, log=lambda line: print(line, file=sys.stderr))
    rep = {**report(store), "build_seconds": round(seconds, 1), "store": str(store.root)}
    rep["driver"] = store.driver
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        print(format_report(rep))
        push = " ".join(store.command("push", CPU_TAG, f"docker://REGISTRY/{CPU_TAG}"))
        print(
            f"built in {seconds:.0f} s ({store.driver} storage in {store.root}); {GPU_TAG} "
            f"needs a Docker engine (not built here); push with: {push}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
