"""Cold start: each handler's import time in a fresh interpreter, and the FC code package's size.

Import time: median of ten fresh interpreters, each timing `import index` (from the unpacked
`dist/<function>.zip` when `rolebinder build` exists) or `import functions.<name>.index` from
the repository (otherwise; the result says which). Bytecode is compiled once before timing, as
the FC package ships it. The floor beside it is what the SDK modules the gateways use cost by
themselves (`aliyunsdkcore.client`, the four ECS requests, RAM GetRole). `-X importtime` splits
one run by top-level package.

Package size: the built zip when there is one; otherwise a zip assembled here from the runtime
closure (pyproject's FC dependencies and everything they require, as installed) plus shared/,
the handler and the mapping, compressed as FC's upload is. The dependencies alone are the floor.
Targets: each handler imports in under 120 ms; the package as small as its dependencies allow.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from bench.harness import MAPPING, ROOT, log
from bench.result import Options, Row

FAMILY = "coldstart"
FUNCTIONS = ("instance_events", "tag_events", "reconcile")
TARGET_MS = 120.0
# pyproject.toml's FC runtime closure ("these, and only these, go into the code package").
RUNTIME_ROOTS = (
    "aliyun-python-sdk-core",
    "aliyun-python-sdk-ecs",
    "aliyun-python-sdk-ram",
    "jsonschema",
    "PyYAML",
)
# The SDK modules the gateways use, imported as rolebinder imports them: after
# rolebinder.aliyun.lazy_rsa_signer
# (installed by `import rolebinder`), which keeps cryptography out (the package ships without it).
SDK_FLOOR = (
    "rolebinder",
    "aliyunsdkcore.client",
    "aliyunsdkecs.request.v20140526.DescribeInstancesRequest",
    "aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest",
    "aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest",
    "aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest",
    "aliyunsdkram.request.v20150501.GetRoleRequest",
)
_CLI = "import sys\nfrom rolebinder.cli import main\nsys.exit(main())"
_TIMED = (
    "import sys, time\n"
    "started = time.perf_counter()\n"
    "{imports}\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


def run(options: Options) -> list[Row]:
    runs = 1 if options.quick else 10
    local = None if options.quick else _build(options.out / "dist-local", local=True)
    where = local / "instance_events" if local else ROOT
    floor_ms = _median_import("\n".join(f"import {m}" for m in SDK_FLOOR), where, runs, local)
    rows = [_import_row(function, local, runs, floor_ms) for function in FUNCTIONS]
    rows.append(_setup_row(local, runs))
    fc = None if options.quick else _build(options.out / "dist-fc", local=False)
    rows.append(_package_row(fc or local, fc is not None, options))
    return rows


def _import_row(function: str, built: Path | None, runs: int, floor_ms: float) -> Row:
    where, statement = _import_site(function, built)
    _import_ms(statement, where, built, write_bytecode=True)  # compile once: FC ships .pyc
    times = _import_times(statement, where, runs, built)
    median = statistics.median(times)
    log(f"coldstart: {function}: {median:.1f} ms (SDK floor {floor_ms:.1f} ms)")
    return Row(
        FAMILY,
        f"import {function} handler",
        f"median of {runs}",
        "ms",
        median,
        floor_ms,
        target=f"< {TARGET_MS:g} ms",
        met=median < TARGET_MS,
        goal=TARGET_MS,
        bound_kind="SDK modules alone",
        detail={
            "source": "unpacked `rolebinder build --local-deps` zip, python -S"
            if built
            else "repository (no usable rolebinder build)",
            # The fastest run is the least disturbed by other work on the machine.
            "fastest_ms": round(min(times), 1),
            "by_package_ms": import_breakdown(statement, where, built) if runs > 1 else {},
            "interpreter_startup_ms": _startup_ms(where, runs) if runs > 1 else None,
        },
    )


def _setup_row(built: Path | None, runs: int) -> Row:
    """The first invocation's own setup after the import: settings and the mapping load. From a
    package that is the compiled mapping (digest check, no jsonschema or PyYAML); from the
    repository, the YAML through the full validator (what local mode does)."""
    where, statement = _import_site("instance_events", built)
    mapping = where / "mapping.compiled.json" if built else MAPPING
    median = _setup_ms(statement, where, built, mapping, runs)
    plain = _setup_ms(statement, where, built, where / "mapping.yaml", runs) if built else median
    log(f"coldstart: first-invocation setup {median:.1f} ms (full validator {plain:.1f} ms)")
    return Row(
        FAMILY,
        "first invocation: mapping load",
        f"median of {runs}",
        "ms",
        median,
        None,
        target="(reported: cold start = import + this)",
        bound_kind="-",
        detail={"mapping": mapping.name, "full_validator_ms": round(plain, 1)},
    )


def _setup_ms(statement: str, where: Path, built: Path | None, mapping: Path, runs: int) -> float:
    timed = (
        f"{statement}\nimport os, time\nfrom rolebinder.entrypoints import invocation\n"
        f"os.environ.update(ROLEBINDER_MAPPING={str(mapping)!r}, FC_REGION='cn-hangzhou')\n"
        "started = time.perf_counter()\ninvocation.runtime_from(os.environ)\n"
        "print((time.perf_counter() - started) * 1000)\n"
    )
    _script_ms(timed, where, built)  # compile once
    return statistics.median(_script_ms(timed, where, built) for _ in range(runs))


def _script_ms(code: str, where: Path, built: Path | None) -> float:
    done = subprocess.run(
        [*_python(built), "-c", code],
        cwd=where,
        env=_env(True),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


# -- import time ----------------------------------------------------------------------------


def _import_site(function: str, built: Path | None) -> tuple[Path, str]:
    if built is not None:
        return built / function, "import index"
    return ROOT, f"import functions.{function}.index"


def _env(write_bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _python(built: Path | None) -> list[str]:
    """The interpreter; -S (no site-packages) when importing from an unpacked package, so
    nothing missing from the zip is silently found in the virtual environment."""
    return [sys.executable, "-S"] if built else [sys.executable]


def _import_ms(
    statement: str, where: Path, built: Path | None, write_bytecode: bool = False
) -> float:
    code = _TIMED.format(imports=statement)
    done = subprocess.run(
        [*_python(built), "-c", code],
        cwd=where,
        env=_env(write_bytecode),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _import_times(statement: str, where: Path, runs: int, built: Path | None) -> list[float]:
    _import_ms(statement, where, built, write_bytecode=True)
    return [_import_ms(statement, where, built) for _ in range(runs)]


def _median_import(statement: str, where: Path, runs: int, built: Path | None) -> float:
    return statistics.median(_import_times(statement, where, runs, built))


def _startup_ms(where: Path, runs: int) -> float:
    """A bare interpreter's start-up, for scale (FC pays it too, before any import)."""
    import time  # noqa: PLC0415

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=where, env=_env(False), check=True)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def import_breakdown(
    statement: str, where: Path, built: Path | None, limit: int = 8
) -> dict[str, float]:
    """Milliseconds of one `-X importtime` run, by top-level package (self times summed)."""
    done = subprocess.run(
        [*_python(built), "-X", "importtime", "-c", statement],
        cwd=where,
        env=_env(False),
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            package = found.group(2).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(found.group(1)) / 1000
    ordered = sorted(totals.items(), key=lambda kv: -kv[1])
    top = {k: round(v, 1) for k, v in ordered[:limit]}
    top["(everything else)"] = round(sum(v for _, v in ordered[limit:]), 1)
    return top


# -- the code package -----------------------------------------------------------------------


def _build(out: Path, local: bool) -> Path | None:
    """`rolebinder build` into `out`, unpacked one folder per function; None when unavailable.

    local: --local-deps for this interpreter (runs here, with bytecode: for import timing);
    otherwise FC's platform and Python (the real package: for its size).
    """
    if not (ROOT / "shared" / "rolebinder" / "cli" / "build.py").exists():
        log("coldstart: no `rolebinder build` yet: timing imports from the repository")
        return None
    # `rolebinder build`, imported from this checkout (cwd), not from wherever it is installed.
    command = [sys.executable, "-c", _CLI, "build", "--out", str(out)]
    if local:
        command += ["--local-deps"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    zips = {f: out / f"{f}.zip" for f in FUNCTIONS}
    if done.returncode != 0 or not all(z.exists() for z in zips.values()):
        log(f"coldstart: `rolebinder {' '.join(command[3:])}` failed: {done.stderr[-300:]}")
        return None
    target = out / "unpacked"
    shutil.rmtree(target, ignore_errors=True)
    for function, path in zips.items():
        with zipfile.ZipFile(path) as archive:
            archive.extractall(target / function)
    return target


def _package_row(built: Path | None, for_fc: bool, options: Options) -> Row:
    if built is not None:
        zipped = built.parent / "instance_events.zip"
        package = zipped.stat().st_size
        by_part = _zip_parts(zipped)
        source = (
            "rolebinder build (FC platform, the Python of template.yml's runtime)"
            if for_fc
            else "rolebinder build --local-deps (this interpreter's packages)"
        )
    else:
        by_part, package = _assembled(options.out / "package-estimate.zip")
        source = "assembled from the installed runtime closure (no rolebinder build yet)"
    ours = sum(v for k, v in by_part.items() if k.startswith("rolebinder"))
    deps = package - ours
    dominant = max(by_part, key=lambda k: by_part[k])
    log(f"coldstart: package {package / 1e6:.2f} MB, dominated by {dominant}")
    return Row(
        FAMILY,
        "FC code package (instance_events)",
        "zip size",
        "MB",
        package / 1e6,
        deps / 1e6,
        target="as small as its dependencies allow",
        met=None,
        bound_kind="dependencies alone",
        detail={
            "source": source,
            "compressed_mb_by_part": {k: round(v / 1e6, 3) for k, v in by_part.items()},
            "dominated_by": dominant,
        },
    )


def runtime_closure() -> list[metadata.Distribution]:
    """The installed distributions the FC dependencies need, transitively (no extras)."""
    from packaging.requirements import Requirement  # noqa: PLC0415 - pip's own dependency

    seen: dict[str, metadata.Distribution] = {}
    pending = list(RUNTIME_ROOTS)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def _assembled(path: Path) -> tuple[dict[str, int], int]:
    """Zip the closure, shared/, the handler and the mapping; compressed bytes per part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for dist in runtime_closure():
            name = f"{dist.metadata['Name']} {dist.version}"
            parts[name] = _add(archive, _dist_files(dist))
        parts["rolebinder: shared/ + handler + mapping"] = _add(archive, _our_files())
    return parts, path.stat().st_size


def _dist_files(dist: metadata.Distribution) -> Iterator[tuple[Path, str]]:
    for file in dist.files or []:
        located = Path(str(file.locate()))
        if located.is_file() and not str(file).startswith(".."):
            yield located, str(file)


def _our_files() -> Iterator[tuple[Path, str]]:
    package = ROOT / "shared" / "rolebinder"
    for located in sorted(package.rglob("*")):
        relative = located.relative_to(package.parent)
        tooling = relative.parts[1] in ("cli", "local", "deploy")
        if located.is_file() and "__pycache__" not in located.parts and not tooling:
            yield located, relative.as_posix()
    yield ROOT / "functions" / "instance_events" / "index.py", "index.py"
    yield MAPPING, "mapping.yaml"


def _add(archive: zipfile.ZipFile, files: Iterator[tuple[Path, str]]) -> int:
    """Write the files not yet in the archive; returns their compressed bytes."""
    present = set(archive.namelist())
    added = 0
    for located, name in files:
        if name not in present:
            archive.write(located, name)
            present.add(name)
            added += archive.getinfo(name).compress_size
    return added


def _zip_parts(path: Path) -> dict[str, int]:
    """Compressed bytes of a built zip, by top-level entry (our code summed as one part)."""
    parts: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = _part(info.filename.split("/", 1)[0])
            parts[key] = parts.get(key, 0) + info.compress_size
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


_OURS = ("rolebinder", "index.py", "mapping.yaml", "build-info.json")
_RENAMED = {"_cffi_backend": "cffi", "_yaml": "yaml", "attr": "attrs"}


def _part(top: str) -> str:
    """The package a top-level zip entry belongs to."""
    if top in _OURS:
        return "rolebinder: shared/ + handler + mapping"
    if top.endswith(".dist-info"):
        return "(dist-info metadata)"
    name = top.split(".", 1)[0]
    return _RENAMED.get(name, name)
