"""Function Compute code packages: one zip per function, handler `index.handler` at the root.

Each zip holds functions/<name>/index.py as index.py, the `rolebinder` package without its
operator tooling (`cli`, `local`, `deploy`), the mapping as mapping.yaml and, validated, as
mapping.compiled.json
(the functions read ROLEBINDER_MAPPING=/code/mapping.compiled.json: FC unpacks the code to
/code; see rolebinder.mapping.compiled), the runtime dependencies,
bytecode when an interpreter of the target version is at hand, and build-info.json.
Zips are reproducible: sorted entries, fixed timestamps and modes, so equal inputs give equal
bytes (and an unchanged package keeps its sha256 and OSS object).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import rolebinder
from rolebinder.cli.dependencies import DependencySpec, versions
from rolebinder.deploy.checkout import TOOLING, handler_file
from rolebinder.mapping import compiled as mapping_compiled

MAPPING_NAME = "mapping.yaml"
# What the functions read (ROLEBINDER_MAPPING): validated here, so no jsonschema at cold start.
COMPILED_NAME = "mapping" + mapping_compiled.COMPILED_SUFFIX
FC_CODE_DIR = "/code"
BUILD_INFO = "build-info.json"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Source files of `rolebinder` that the handlers need; anything else there is not code.
_SHARED_SUFFIXES = frozenset({".py", ".json"})


@dataclass(frozen=True)
class Package:
    """One built zip and what it weighs."""

    function: str
    path: Path
    size: int
    sha256: str
    entries: int
    by_top_level: tuple[tuple[str, int], ...]  # (name, compressed bytes), largest first


# Installed with the SDK but never imported by the functions: the SDK needs `cryptography` (and
# through it cffi and pycparser) only to sign with RSA key pairs, which
# rolebinder.aliyun.lazy_rsa_signer defers
# to first use; rolebinder signs with AccessKey/STS credentials. Over 60% of a package.
UNUSED_DEPENDENCIES = ("cryptography*", "cffi*", "_cffi_backend*", "pycparser*")


def stage_dependencies(root: Path, deps: Path) -> None:
    """Copy an install directory, without what FC never loads."""
    ignore = shutil.ignore_patterns(".rolebinder-*", *UNUSED_DEPENDENCIES)
    shutil.copytree(deps, root, dirs_exist_ok=True, ignore=ignore)


def stage_common(root: Path, mapping: Path, deps: Path) -> None:
    """Copy what every function's zip shares: rolebinder (minus tooling), mapping, dependencies."""
    stage_dependencies(root, deps)
    source = Path(rolebinder.__file__).parent
    for file in sorted(source.rglob("*")):
        relative = file.relative_to(source)
        if file.is_file() and file.suffix in _SHARED_SUFFIXES and _is_runtime(relative):
            (root / "rolebinder" / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, root / "rolebinder" / relative)
    shutil.copyfile(mapping, root / MAPPING_NAME)
    (root / COMPILED_NAME).write_bytes(mapping_compiled.compile_mapping(root / MAPPING_NAME))
    mapping_compiled.load(root / COMPILED_NAME)  # what ships must load as the functions load it


def _is_runtime(relative: Path) -> bool:
    return relative.parts[0] not in TOOLING and "__pycache__" not in relative.parts


def stage_function(root: Path, function: str) -> None:
    """The function's own file: functions/<function>/index.py as index.py."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handler_file(function), root / "index.py")


def bytecode_interpreter(python_version: str) -> str | None:
    """An interpreter of exactly `python_version`: bytecode from any other would not load."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    candidate = shutil.which(f"python{python_version}")
    if candidate is None:
        return None
    probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)  # noqa: S603
    return candidate if done.returncode == 0 and done.stdout.strip() == python_version else None


def compile_tree(root: Path, interpreter: str) -> bool:
    """Write __pycache__ bytecode for every module under `root`; False if compileall failed.

    unchecked-hash: FC unpacks the zip with its own timestamps, which would invalidate the
    default (mtime-stamped) bytecode; these files are loaded without looking at the source.
    """
    # One process, files in sorted order: marshal's output depends on what the process compiled
    # before (reference counts), so parallel workers would make two builds differ.
    command = [interpreter, "-m", "compileall", "-q", "-q"]
    # -d: tracebacks name /code/..., where FC puts the files, and builds stay reproducible.
    command += ["--invalidation-mode", "unchecked-hash", "-d", FC_CODE_DIR, str(root)]
    # compileall exits 1 when any file does not compile: a few vendored modules are Python 2
    # only and never imported; every other module still gets its bytecode.
    # A fixed hash seed orders set constants (x in {...}) the same way in every build.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, env=env, check=False)  # noqa: S603
    return done.returncode in (0, 1)


def build_info(
    function: str, spec: DependencySpec, deps: Path, mapping: Path, bytecode: bool
) -> dict[str, object]:
    """What went into a package, for whoever wonders what runs in /code."""
    return {
        "function": function,
        "handler": "index.handler",
        "python_version": spec.python_version,
        "platform": spec.platform,
        "dependencies_from": spec.source,
        "dependencies": versions(deps),
        "bytecode": bytecode,
        "mapping": mapping.name,
        "mapping_sha256": hashlib.sha256(mapping.read_bytes()).hexdigest(),
        "compiled_mapping": COMPILED_NAME,
    }


def write_zip(path: Path, trees: list[Path], info: dict[str, object]) -> Package:
    """Zip the union of `trees` (later ones win) plus build-info.json, reproducibly."""
    members = {arcname: file for tree in trees for arcname, file in _files(tree)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(members):
            _add(archive, arcname, members[arcname].read_bytes(), _mode(members[arcname]))
        _add(archive, BUILD_INFO, json.dumps(info, indent=2).encode() + b"\n", 0o644)
    partial.replace(path)
    return describe(path, str(info["function"]))


def _files(tree: Path) -> Iterator[tuple[str, Path]]:
    for file in tree.rglob("*"):
        if file.is_file():
            yield file.relative_to(tree).as_posix(), file


def _mode(file: Path) -> int:
    return 0o755 if file.stat().st_mode & 0o111 else 0o644


def _add(archive: zipfile.ZipFile, arcname: str, data: bytes, mode: int) -> None:
    entry = zipfile.ZipInfo(arcname, _ZIP_TIME)
    entry.external_attr = (0o100000 | mode) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def describe(path: Path, function: str) -> Package:
    """Size, digest and the compressed weight of each top-level entry of a zip."""
    weights: Counter[str] = Counter()
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        for entry in entries:
            top = entry.filename.split("/", 1)[0]
            weights["*.dist-info" if top.endswith(".dist-info") else top] += entry.compress_size
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Package(
        function, path, path.stat().st_size, digest, len(entries), tuple(weights.most_common())
    )
