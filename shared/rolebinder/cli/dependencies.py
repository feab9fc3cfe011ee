"""The handlers' runtime dependencies for a code package, installed once and cached.

`pip install --target` with FC's platform and Python version fetches binary wheels built for
Function Compute (manylinux2014 x86_64, CPython 3.10), whatever machine builds the package.
The result is cached under a key of everything that decides it. Without a registry, the same
closure can be copied from this interpreter's site-packages instead: such a package runs only on
this interpreter's Python version and platform (local runs and tests), and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from rolebinder.errors import RolebinderError

# The FC runtime closure: pyproject.toml's first dependencies (a test keeps them equal).
RUNTIME_REQUIREMENTS = (
    "aliyun-python-sdk-core>=2.16,<3",
    "aliyun-python-sdk-ecs>=4.24,<5",
    "aliyun-python-sdk-ram>=3.3,<4",
    "aliyun-python-sdk-sts>=3.1.1,<4",
    "aliyun-python-sdk-resourcemanager>=1.2,<2",
    "jsonschema>=4.18,<5",
    "PyYAML>=6.0,<7",
    "alibabacloud-fc20230330>=4.1,<5",
)
# Only a hub's sweep fan-out imports the FC 3.0 SDK (and its aiohttp closure), and only the
# reconcile function fans out: the event functions' packages leave it out.
FANOUT_REQUIREMENTS = ("alibabacloud-fc20230330>=4.1,<5",)
EVENT_REQUIREMENTS = tuple(r for r in RUNTIME_REQUIREMENTS if r not in FANOUT_REQUIREMENTS)
FC_PLATFORM = "manylinux2014_x86_64"
FROM_PIP = "pip"
FROM_SITE_PACKAGES = "site-packages"
# Bump when what an install directory holds changes, so stale caches are not reused.
_LAYOUT = 1
_COMPLETE = ".rolebinder-deps.json"
# Never imported in Function Compute: test suites shipped inside packages, console scripts.
_STRIP_DIRS = frozenset({"tests", "test", "__pycache__"})


class DependencyError(RolebinderError):
    """The dependencies could not be installed (registry unreachable, no matching wheel)."""


@dataclass(frozen=True)
class DependencySpec:
    """What decides the contents of an install directory."""

    python_version: str
    source: str = FROM_PIP
    platform: str = FC_PLATFORM
    requirements: tuple[str, ...] = EVENT_REQUIREMENTS

    def key(self) -> str:
        text = json.dumps({"layout": _LAYOUT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def this_python() -> str:
    """The running interpreter's version as FC names it, e.g. 3.11."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def installed(spec: DependencySpec, cache: Path, verbose: bool = False) -> Path:
    """The install directory for `spec`, from the cache or freshly installed into it."""
    target = cache / f".deps-{spec.key()}"
    if (target / _COMPLETE).is_file():
        return target
    staging = cache / f".deps-{spec.key()}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if spec.source == FROM_PIP:
            _pip_install(spec, staging, verbose)
        else:
            _copy_site_packages(spec, staging)
        strip(staging)
        (staging / _COMPLETE).write_text(json.dumps(asdict(spec), indent=2) + "\n")
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _publish(staging: Path, target: Path) -> None:
    # Only complete directories are renamed into place (atomically), so a crash never leaves a
    # half-filled entry; a concurrent build that finished first wins and this copy is dropped.
    try:
        staging.rename(target)
    except OSError:
        if not (target / _COMPLETE).is_file():
            raise


def _pip_install(spec: DependencySpec, target: Path, verbose: bool) -> None:
    command = [
        *(sys.executable, "-m", "pip", "install", "--disable-pip-version-check"),
        *("--target", str(target), "--only-binary=:all:", "--platform", spec.platform),
        *("--python-version", spec.python_version, "--implementation", "cp"),
        # Bytecode compiled by this interpreter would not load in FC's; see bundle.compile_tree.
        "--no-compile",
        *([] if verbose else ["--quiet"]),
        *spec.requirements,
    ]
    output = None if verbose else subprocess.PIPE
    # The command is built from constants and a validated version, never from a shell string.
    done = subprocess.run(command, stdout=output, stderr=output, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        last = lines[-1] if lines else "see its output with --verbose"
        raise DependencyError(f"pip could not install the runtime dependencies: {last}")


def _copy_site_packages(spec: DependencySpec, target: Path) -> None:
    if spec.python_version != this_python():
        raise DependencyError(
            f"site-packages of Python {this_python()} cannot serve Python {spec.python_version}"
        )
    for dist in closure([_name(r) for r in spec.requirements]):
        for file in dist.files or ():
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # console scripts outside site-packages; bytecode of this interpreter
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(dist.locate_file(file)), destination)


def closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `names` need, transitively (extras not included)."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = _canonical(pending.pop())
        if name in found:
            continue
        try:
            found[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker excludes this interpreter
        pending += [_name(r) for r in found[name].requires or () if "extra ==" not in r]
    return [found[name] for name in sorted(found)]


def strip(root: Path) -> None:
    """Delete what FC never loads: bundled test suites, bytecode, console scripts."""
    shutil.rmtree(root / "bin", ignore_errors=True)
    for directory in sorted(root.rglob("*"), reverse=True):
        if directory.is_dir() and directory.name in _STRIP_DIRS:
            shutil.rmtree(directory, ignore_errors=True)


def versions(root: Path) -> dict[str, str]:
    """Distribution name -> version, from the *.dist-info directories of an install."""
    found = {}
    for info in root.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found[name] = version
    return dict(sorted(found.items()))


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return match[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
