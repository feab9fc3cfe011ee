"""`rolebinder build`: the zips hold what FC needs and nothing else, and run where FC runs them.

The packages are built once per session (the dependency install is cached in
.rolebinder/build-cache across runs). They target the Python of template.yml's runtime when an
interpreter of that version is on this machine (then bytecode is compiled too), else this
interpreter's version.
Without a registry the build falls back to --local-deps, with a warning. Each zip is unpacked
and run by that interpreter with -I -S: sys.path holds the unpacked directory and the standard
library only, as in FC's /code.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

import fakecloud
from rolebinder.cli import main
from rolebinder.cli.dependencies import (
    FROM_PIP,
    FROM_SITE_PACKAGES,
    RUNTIME_REQUIREMENTS,
    DependencyError,
    DependencySpec,
    installed,
    strip,
    this_python,
)
from rolebinder.deploy import template as tpl
from rolebinder.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".rolebinder" / "build-cache"
EVENTS = ROOT / "events"
MAPPING = ROOT / "examples" / "mapping.yaml"
REGION = "cn-hangzhou"
RUNTIME_MODULES = (
    *("aliyunsdkcore", "aliyunsdkecs", "aliyunsdkram", "aliyunsdksts", "aliyunsdkresourcemanager"),
    *("jsonschema", "yaml"),
)
# A hub's sweep fan-out: only the reconcile function's package carries the FC 3.0 SDK.
FANOUT_MODULES = ("alibabacloud_fc20230330", "darabonba", "Tea", "aiohttp")
OPERATOR_ONLY = ("fc2", "rich", "fakecloud", "functions", "tests", "pytest", "bin")
RUNTIME = tpl.runtime_version(tpl.load_template())  # what template.yml deploys, e.g. 3.12


@dataclass(frozen=True)
class Built:
    out: Path
    python: str  # the interpreter the packages are built for, and run with here
    version: str
    source: str  # pip, or site-packages when no registry was reachable


def python_of(version: str) -> str | None:
    """An interpreter of exactly `version` on this machine (PATH, then pyenv's versions)."""
    home = Path.home() / ".pyenv" / "versions"
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(f"{home}/{version}.*/bin/python{version}")),
    ]
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        done = subprocess.run(probe, capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


def build_packages(out: Path) -> Built:
    """Build for the template's runtime if such an interpreter is here; else --local-deps."""
    python = python_of(RUNTIME) or sys.executable
    version = RUNTIME if python != sys.executable else this_python()
    with pytest.MonkeyPatch.context() as patch:
        # Puts that interpreter first on PATH, so the build compiles bytecode with it.
        patch.setenv("PATH", f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}")
        args = ["build", "--out", str(out), "--cache-dir", str(CACHE), "--python-version", version]
        if main(args) == 0:
            return Built(out, python, version, FROM_PIP)
    warnings.warn(
        "no registry: packages built with --local-deps (this interpreter's)", stacklevel=1
    )
    assert main(["build", "--out", str(out), "--cache-dir", str(CACHE), "--local-deps"]) == 0
    return Built(out, sys.executable, this_python(), FROM_SITE_PACKAGES)


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold a file lock (POSIX); elsewhere each worker simply builds on its own."""
    with lock.open("w") as handle:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The three packages, built once per test run (shared by pytest-xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = root / "rolebinder-built.json"
    with exclusive(root / "rolebinder-build.lock"):
        if record.is_file():
            fields = json.loads(record.read_text())
            return Built(Path(fields.pop("out")), **fields)
        built = build_packages(root / "rolebinder-dist")
        record.write_text(json.dumps({**asdict(built), "out": str(built.out)}))
        return built


@pytest.fixture(scope="session")
def unpacked(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each zip extracted into a fresh directory of its own, as FC extracts it into /code."""
    dirs = {}
    for function in tpl.FUNCTION_DIRS:
        target = tmp_path_factory.mktemp(f"code-{function}")
        with zipfile.ZipFile(built.out / f"{function}.zip") as archive:
            archive.extractall(target)
        dirs[function] = target
    return dirs


def names_in(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def run_isolated(
    built: Built, code_dir: Path, script: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `script` with only `code_dir` and the standard library importable."""
    command = [
        built.python,
        "-I",
        "-S",
        "-c",
        f"import sys; sys.path.insert(0, {str(code_dir)!r})\n{script}",
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env or {},
        cwd=code_dir,
        timeout=120,
        check=False,
    )


# -- contents ---------------------------------------------------------------------------------


def test_one_zip_per_function(built: Built) -> None:
    assert sorted(p.name for p in built.out.glob("*.zip")) == [
        "instance_events.zip",
        "reconcile.zip",
        "tag_events.zip",
    ]


@pytest.mark.parametrize("function", tpl.FUNCTION_DIRS)
def test_a_zip_holds_the_handler_package_mapping_and_runtime_dependencies(
    built: Built, function: str
) -> None:
    # GIVEN one package
    path = built.out / f"{function}.zip"
    names = names_in(path)
    tops = {name.split("/", 1)[0] for name in names}
    with zipfile.ZipFile(path) as archive:
        index, mapping = archive.read("index.py"), archive.read("mapping.yaml")
        info = json.loads(archive.read("build-info.json"))
    # THEN the handler and the mapping are at the root, byte for byte, with its compiled form
    assert index == (ROOT / "functions" / function / "index.py").read_bytes()
    assert mapping == MAPPING.read_bytes()
    assert "mapping.compiled.json" in names and info["compiled_mapping"] == "mapping.compiled.json"
    # AND the rolebinder package is there, with the mapping schema but without the operator
    # tooling (cli, local mode, deploy), and nothing named shared/ or functions/
    assert (
        "rolebinder/entrypoints/invocation.py" in names
        and "rolebinder/mapping/schemas/mapping.schema.json" in names
    )
    assert not [n for n in names if n.startswith(("rolebinder/cli/", "rolebinder/local/"))]
    assert not [n for n in names if n.startswith("rolebinder/deploy/")]
    assert not tops & {"shared", "functions"}
    # AND the runtime dependencies are, operator tooling and test suites are not
    assert set(RUNTIME_MODULES) <= tops
    assert not tops & set(OPERATOR_ONLY)
    assert not [n for n in names if re.search(r"(^|/)tests?/", n)]
    # AND only reconcile, which fans a hub's sweep out, carries the FC 3.0 SDK
    fanout = tops & set(FANOUT_MODULES)
    assert fanout == (set(FANOUT_MODULES) if function == "reconcile" else set())
    assert ("alibabacloud_fc20230330" in info["dependencies"]) == (function == "reconcile")
    assert info["function"] == function and info["python_version"] == built.version
    assert info["dependencies_from"] == built.source


@pytest.mark.parametrize("function", tpl.FUNCTION_DIRS)
def test_binaries_and_bytecode_are_for_the_target_python_only(built: Built, function: str) -> None:
    names = names_in(built.out / f"{function}.zip")
    tag = "cpython-" + built.version.replace(".", "")
    extensions = [n for n in names if n.endswith(".so")]
    assert extensions and all(tag in n or ".abi3." in n for n in extensions)
    bytecode = [n for n in names if n.endswith(".pyc")]
    assert all(f".{tag}.pyc" in n for n in bytecode)
    with zipfile.ZipFile(built.out / f"{function}.zip") as archive:
        shipped = json.loads(archive.read("build-info.json"))["bytecode"]
    assert shipped == bool(bytecode)
    if shipped:
        assert (
            f"__pycache__/index.{tag}.pyc" in names
            and f"rolebinder/intake/__pycache__/events.{tag}.pyc" in names
        )


def test_runtime_requirements_are_pyprojects() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert list(RUNTIME_REQUIREMENTS) == project["dependencies"][: len(RUNTIME_REQUIREMENTS)]


# -- running the unpacked package -------------------------------------------------------------

IMPORT_CHECK = """
import json, index
tooling = ("fakecloud", "functions", "rich", "fc2", "rolebinder.cli", "rolebinder.local")
print(json.dumps({
    "callable": callable(index.handler),
    "leaks": sorted(m for m in sys.modules if m in tooling or m.startswith(tooling[:4])
        or m.startswith(("rolebinder.cli.", "rolebinder.local.", "rolebinder.deploy"))),
    "site": "site" in sys.modules,
    "outside": [p for p in sys.path if "site-packages" in p],
}))
"""


@pytest.mark.parametrize("function", tpl.FUNCTION_DIRS)
def test_the_unpacked_package_imports_in_isolation(
    built: Built, unpacked: dict[str, Path], function: str
) -> None:
    # WHEN index is imported with nothing but the package and the standard library
    done = run_isolated(built, unpacked[function], IMPORT_CHECK)
    # THEN the handler is there and no operator tooling or test code came along
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"callable": True, "leaks": [], "site": False, "outside": []}


def test_shipped_bytecode_is_what_python_loads(built: Built, unpacked: dict[str, Path]) -> None:
    code_dir = unpacked["tag_events"]
    if not list(code_dir.rglob("*.pyc")):
        pytest.skip(f"no Python {built.version} interpreter compiled bytecode on this machine")
    # WHEN the package is imported with -v, which names the file each module's code came from
    script = f"import sys; sys.path.insert(0, {str(code_dir)!r}); import index"
    command = [built.python, "-I", "-S", "-v", "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, env={}, check=False)
    # THEN the package's modules come from the shipped __pycache__ files, not from a compile
    assert done.returncode == 0, done.stderr
    tag = "cpython-" + built.version.replace(".", "")
    ours = [line for line in done.stderr.splitlines() if str(code_dir) in line]
    loaded = re.findall(r"# code object from '([^']+)'", "\n".join(ours))
    assert f"{code_dir}/rolebinder/entrypoints/__pycache__/invocation.{tag}.pyc" in loaded
    assert f"{code_dir}/aliyunsdkcore/__pycache__/client.{tag}.pyc" in loaded
    assert not [line for line in ours if "could not" in line or "wrote" in line]


SAMPLES = {
    # function: (sample event, instance it concerns, role the mapping gives it)
    "instance_events": (
        "eventbridge-ecs-instance-statechange-created.json",
        "i-bp1payments0000000001",
        "Payments",
    ),
    "tag_events": ("eventbridge-tag-changeonresource.json", "i-bp1payments0000000002", "Payments"),
    "reconcile": ("fc-timer-sweep.json", "i-bp1reader00000000001", "AppReader"),
}
RUN_HANDLER = """
import json, index
event = open(sys.argv[1], "rb").read()
summary = index.handler(event, None)
slow = sorted({m.split(".")[0] for m in sys.modules} & {"jsonschema", "yaml"})
print(json.dumps({"summary": summary, "slow_imports": slow}))
"""


def handler_env(code_dir: Path, server: fakecloud.FakeCloudServer, mapping: Path) -> dict[str, str]:
    return {
        "ROLEBINDER_MAPPING": str(mapping),
        "ROLEBINDER_ECS_ENDPOINT": server.url,
        "ROLEBINDER_RAM_ENDPOINT": server.url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": fakecloud.DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": fakecloud.DEFAULT_ACCESS_KEY_SECRET,
        "FC_REGION": REGION,
        "FC_ACCOUNT_ID": fakecloud.DEFAULT_ACCOUNT_ID,
        "NO_PROXY": "127.0.0.1,localhost",
    }


def run_packaged(built: Built, code_dir: Path, env: dict[str, str], event: Path) -> Any:
    command = [
        built.python,
        "-I",
        "-S",
        "-c",
        f"import sys; sys.path.insert(0, {str(code_dir)!r})\n{RUN_HANDLER}",
        str(event),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=code_dir, timeout=120, check=False
    )


@pytest.mark.parametrize("function", tpl.FUNCTION_DIRS)
def test_the_packaged_handler_binds_the_role_on_the_fake_cloud(
    built: Built,
    unpacked: dict[str, Path],
    cloud: fakecloud.FakeCloud,
    server: fakecloud.FakeCloudServer,
    function: str,
) -> None:
    # GIVEN the sample world, with no role attached anywhere
    fakecloud.apply_seed(cloud, fakecloud.load_seed_file(EVENTS / "seed.yaml"))
    sample, instance_id, role = SAMPLES[function]
    code_dir = unpacked[function]
    env = handler_env(code_dir, server, code_dir / "mapping.compiled.json")  # as template.yml
    # WHEN the handler from the unpacked zip gets the sample event, as bytes like FC passes it
    done = run_packaged(built, code_dir, env, EVENTS / sample)
    # THEN it returns its summary, the instance has the role the mapping gives it, and neither
    # jsonschema nor PyYAML was imported (the build validated the mapping)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result["summary"], dict) and result["slow_imports"] == []
    assert cloud.ecs(REGION).instances[instance_id].role == role


def test_the_packaged_handler_refuses_a_tampered_compiled_mapping(
    built: Built,
    unpacked: dict[str, Path],
    cloud: fakecloud.FakeCloud,
    server: fakecloud.FakeCloudServer,
    tmp_path: Path,
) -> None:
    # GIVEN the package's compiled mapping with a role slipped into the allow-list afterwards
    fakecloud.apply_seed(cloud, fakecloud.load_seed_file(EVENTS / "seed.yaml"))
    code_dir = unpacked["instance_events"]
    tampered = tmp_path / "mapping.compiled.json"
    text = (code_dir / "mapping.compiled.json").read_text(encoding="utf-8")
    tampered.write_text(text.replace('"Payments"', '"Admin"', 1), encoding="utf-8")
    assert tampered.read_text(encoding="utf-8") != text
    # WHEN the handler runs with it
    env = handler_env(code_dir, server, tampered)
    done = run_packaged(built, code_dir, env, EVENTS / SAMPLES["instance_events"][0])
    # THEN it fails loudly before any API call, saying the digest does not match
    assert done.returncode != 0
    assert "sha256 does not match" in done.stderr
    assert cloud.calls.count() == 0


# -- input errors and --check -----------------------------------------------------------------


def test_an_invalid_mapping_stops_the_build_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a mapping whose rule names a role outside the allow-list
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroles: [A]\nrules:\n  - {name: r, when: {tags: {t: v}}, role: B}\n")
    # WHEN a build is asked for
    code = main(
        ["build", "--mapping", str(bad), "--out", str(tmp_path / "dist"), "--cache-dir", str(CACHE)]
    )
    # THEN exit 2, one line on stderr, no output directory
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "dist").exists()


def test_check_refuses_a_template_whose_policy_is_for_another_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a valid mapping with a different allow-list than the template was written for
    other = tmp_path / "other.yaml"
    rule = "{name: r, when: {tags: {t: v}}, role: AppReader}"
    other.write_text(f"version: 1\nroles: [AppReader]\nrules:\n  - {rule}\n")
    # WHEN the build checks the template
    code = main(["build", "--check", "--mapping", str(other), "--out", str(tmp_path / "dist")])
    # THEN it stops with exit 2 and says how to regenerate the policy
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"rolebinder policy --ros --mapping {other}" in err
    assert not (tmp_path / "dist").exists()


def test_check_refuses_a_python_version_the_template_does_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "3.10" if RUNTIME != "3.10" else "3.12"
    code = main(["build", "--check", "--python-version", other, "--out", str(tmp_path)])
    assert code == 2
    assert f"python{RUNTIME}" in capsys.readouterr().err


def test_the_default_python_version_follows_the_template(tmp_path: Path) -> None:
    # GIVEN a template whose functions run python3.9
    template = tmp_path / "template.yml"
    text = tpl.DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    template.write_text(text.replace(f"Runtime: python{RUNTIME}", "Runtime: python3.9"))
    # WHEN the build spec is made without --python-version
    from rolebinder.cli.build import _spec  # noqa: PLC0415

    args = argparse.Namespace(local_deps=False, python_version=None, template=template)
    # THEN it targets that runtime, and the real template's when given that one
    assert _spec(args).python_version == "3.9"
    args.template = tpl.DEFAULT_TEMPLATE
    assert _spec(args).python_version == RUNTIME


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--python-version", "ten"], "not a version"),
        (["--local-deps", "--python-version", "3.9"], "--local-deps"),
    ],
)
def test_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["build", "--out", str(tmp_path / "dist"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_check_passes_for_the_bundled_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    from rolebinder.cli.build import check_template  # noqa: PLC0415
    from rolebinder.mapping.model import load_mapping  # noqa: PLC0415

    check_template(tpl.load_template(), load_mapping(MAPPING), MAPPING, RUNTIME)


# -- reproducibility, reporting, the dependency cache ----------------------------------------


def test_a_rebuild_is_byte_identical_and_reports_what_weighs(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the same inputs (the session's dependency install, same interpreter on PATH)
    args = ["build", "--out", str(tmp_path), "--cache-dir", str(CACHE), "--verbose"]
    args += (
        ["--local-deps"]
        if built.source == FROM_SITE_PACKAGES
        else ["--python-version", built.version]
    )
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(built.python).parent}{os.pathsep}{os.environ['PATH']}")
        assert main(args) == 0
    out = capsys.readouterr().out
    if stale_sources(built.out / "reconcile.zip"):
        pytest.skip("rolebinder was edited since the session's build: the inputs differ")
    # THEN every zip has the same bytes, and the report names sizes and the largest parts
    for function in tpl.FUNCTION_DIRS:
        assert (tmp_path / f"{function}.zip").read_bytes() == (
            built.out / f"{function}.zip"
        ).read_bytes()
        assert re.search(rf"{function}\.zip\s+\d+\.\d MB\s+sha256 [0-9a-f]{{16}}", out)
    assert re.search(r"^\s+\d+\.\d MB\s+aliyunsdkcore$", out, re.MULTILINE)
    # cryptography is installed with the SDK but never shipped (rolebinder.aliyun.lazy_rsa_signer)
    assert not re.search(r"cryptography|cffi", out)
    with zipfile.ZipFile(built.out / "instance_events.zip") as archive:
        assert not [n for n in archive.namelist() if n.startswith(("cryptography", "cffi"))]


def stale_sources(package: Path) -> list[str]:
    """Files of the rolebinder package that differ between a zip and the working tree."""
    with zipfile.ZipFile(package) as archive:
        shipped = [
            n for n in archive.namelist() if n.startswith("rolebinder/") and n.endswith(".py")
        ]
        return [
            n
            for n in shipped
            if not (ROOT / "shared" / n).is_file()
            or archive.read(n) != (ROOT / "shared" / n).read_bytes()
        ]


def test_site_packages_fallback_copies_the_runtime_closure(tmp_path: Path) -> None:
    # WHEN the dependencies are taken from this interpreter instead of the registry
    deps = installed(DependencySpec(this_python(), FROM_SITE_PACKAGES), tmp_path)
    tops = {p.name for p in deps.iterdir()}
    # THEN the handlers' closure is there (transitive dependencies included), tooling is not
    assert set(RUNTIME_MODULES) | {"referencing", "rpds", "cryptography", "jmespath"} <= tops
    assert not tops & {"fc2", "rich", "pytest", "responses", "hypothesis", "shared", "rolebinder"}
    # AND the event functions' closure leaves the fan-out's FC 3.0 SDK out
    assert not tops & set(FANOUT_MODULES)
    # AND a second call reuses the cache entry
    assert installed(DependencySpec(this_python(), FROM_SITE_PACKAGES), tmp_path) == deps


def test_a_failed_install_raises_and_leaves_no_cache_entry(tmp_path: Path) -> None:
    # GIVEN a platform no wheel exists for
    spec = DependencySpec("3.10", FROM_PIP, platform="no_such_platform")
    # WHEN pip is asked for it, THEN the error is ours and nothing half-done stays in the cache
    with pytest.raises(DependencyError, match="pip could not install"):
        installed(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_strip_removes_what_fc_never_loads(tmp_path: Path) -> None:
    # GIVEN an install with tests, bytecode and console scripts beside the code
    for name in (
        "pkg/__init__.py",
        "pkg/tests/test_x.py",
        "pkg/__pycache__/m.pyc",
        "bin/tool",
        "pkg/testing.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    # WHEN stripped
    strip(tmp_path)
    # THEN only the code is left
    assert sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
    ) == ["pkg/__init__.py", "pkg/testing.py"]


def test_the_code_still_compiles_on_python_3_10() -> None:
    # FC 2.0 stacks and local users may still run python3.10: no syntax newer than it
    python = python_of("3.10")
    if python is None:
        pytest.skip("no python3.10 on this machine")
    sources = sorted(str(p) for d in ("shared", "functions") for p in (ROOT / d).rglob("*.py"))
    script = "import sys\nfor f in sys.argv[1:]: compile(open(f).read(), f, 'exec')"
    command = [python, "-c", script, *sources]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(sources) > 40


def test_check_covers_member_yml(tmp_path: Path) -> None:
    from rolebinder.cli.build import check_member  # noqa: PLC0415
    from rolebinder.mapping.model import load_mapping  # noqa: PLC0415

    # GIVEN member.yml, the bundled mapping, and a mapping with another allow-list
    member = tpl.load_template(tpl.DEFAULT_TEMPLATE.with_name("member.yml"))
    other = tmp_path / "other.yaml"
    rule = "{name: r, when: {tags: {t: v}}, role: AppReader}"
    other.write_text(f"version: 1\nroles: [AppReader]\nrules:\n  - {rule}\n")
    # THEN the bundled mapping passes, and the other is refused with the command to run
    check_member(member, load_mapping(MAPPING), MAPPING)
    with pytest.raises(InputError, match=f"rolebinder policy --member --ros --mapping {other}"):
        check_member(member, load_mapping(other), other)
