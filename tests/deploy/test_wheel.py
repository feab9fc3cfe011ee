"""`pip install .`: the wheel installs `rolebinder` and `fakecloud`, and no generic name.

The design keeps the folders shared/ and functions/, but a top-level import package named
`shared` or `functions` would collide with anything else of that name on a path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

# What the wheel is built from: the project file and the two source roots.
SOURCES = ("pyproject.toml", "README.md", "shared", "fakecloud")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy (the build writes build/ and egg-info)."""
    pytest.importorskip("setuptools")
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "--disable-pip-version-check", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("rolebinder-*.whl")
    return built


def top_level_packages(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return {n.split("/", 1)[0] for n in names if "/" in n and ".dist-info/" not in n}


def test_the_wheel_installs_rolebinder_and_fakecloud_only(wheel: Path) -> None:
    assert top_level_packages(wheel) == {"rolebinder", "fakecloud"}


def test_the_wheel_carries_the_mapping_schema_and_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert "rolebinder/mapping/schemas/mapping.schema.json" in names
    assert "rolebinder = rolebinder.cli:main" in scripts
