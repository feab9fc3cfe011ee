"""Cold start: with the compiled mapping the build writes, a handler's import and first
invocation never import jsonschema or PyYAML (checked in a fresh interpreter); with a plain YAML
mapping they do, which shows the check can fail.

An instance event also leaves unloaded what only a sweep, a hub or an operator needs, and the
standard-library modules the floor (a bare interpreter importing the SDK) does not load: each
cost the cold start its import time (docs/PERFORMANCE.md, issue 14). A timer sweep loads the
sweep's modules, which shows that check can fail too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fakecloud
from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.mapping.compiled import compile_mapping
from tests.support import EVENTS, PYTHONPATH, REGION, ROOT

MAPPING = ROOT / "examples" / "mapping.yaml"
FIRST_INVOCATION = """
import importlib, json, sys
index = importlib.import_module(f"functions.{sys.argv[2]}.index")
summary = index.handler(open(sys.argv[1], "rb").read(), None)
loaded = lambda name: any(m == name or m.startswith(name + ".") for m in sys.modules)
hub = ["aliyunsdksts", "aliyunsdkresourcemanager", "alibabacloud_fc20230330", "Tea"]
print(json.dumps({"outcomes": summary["outcomes"], "jsonschema": loaded("jsonschema"),
                  "yaml": loaded("yaml"), "hub": [m for m in hub if loaded(m)],
                  "unneeded": [m for m in sys.argv[3:] if loaded(m)]}))
"""
# What an instance event must not import. rolebinder's own: a sweep's pipeline, the timer's
# accounts and regions, the hub's fan-out and its FC client, the CLI and local mode. The standard
# library's: `typing` (2.3 ms: Value and the TYPE_CHECKING blocks keep it to type checkers),
# `concurrent.futures` (the sweep's thread pools), `uuid` (FC gives the request id), and the
# mapping validator's `jsonschema` and PyYAML (above). (`dataclasses` is still imported, by
# rolebinder.aliyun.pacing's one dataclass.)
UNNEEDED_ON_AN_EVENT = (
    "rolebinder.service.sweep",
    "rolebinder.entrypoints.sweeping",
    "rolebinder.entrypoints.fanout",
    "rolebinder.aliyun.functions",
    "rolebinder.cli",
    "rolebinder.local",
    "typing",
    "concurrent.futures",
    "uuid",
)


def first_invocation(
    server: FakeCloudServer,
    mapping: Path,
    event: str = "eventbridge-ecs-instance-statechange-created.json",
    function: str = "instance_events",
) -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": PYTHONPATH,
        "ROLEBINDER_MAPPING": str(mapping),
        "ROLEBINDER_ECS_ENDPOINT": server.url,
        "ROLEBINDER_RAM_ENDPOINT": server.url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": fakecloud.DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": fakecloud.DEFAULT_ACCESS_KEY_SECRET,
        "FC_REGION": REGION,
        "FC_ACCOUNT_ID": fakecloud.DEFAULT_ACCOUNT_ID,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [
        sys.executable,
        "-c",
        FIRST_INVOCATION,
        str(EVENTS / event),
        function,
        *UNNEEDED_ON_AN_EVENT,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def world(cloud: FakeCloud) -> FakeCloud:
    fakecloud.apply_seed(cloud, fakecloud.load_seed_file(EVENTS / "seed.yaml"))
    return cloud


@pytest.mark.usefixtures("world")
def test_a_compiled_mapping_keeps_jsonschema_and_yaml_out(
    server: FakeCloudServer, tmp_path: Path
) -> None:
    # GIVEN the compiled form of the bundled mapping, as `rolebinder build` writes it
    compiled = tmp_path / "mapping.compiled.json"
    compiled.write_bytes(compile_mapping(MAPPING))
    # WHEN a fresh interpreter imports the handler and runs its first invocation
    found = first_invocation(server, compiled)
    # THEN it bound the instance without importing either library
    # AND a single-account deployment never loads the hub's SDKs (STS, Resource Directory, FC)
    # AND nothing a sweep, a hub or an operator needs, nor typing, concurrent.futures or uuid
    assert found == {
        "outcomes": {"attached": 1},
        "jsonschema": False,
        "yaml": False,
        "hub": [],
        "unneeded": [],
    }


@pytest.mark.usefixtures("world")
def test_a_plain_mapping_still_goes_through_the_full_validator(server: FakeCloudServer) -> None:
    found = first_invocation(server, MAPPING)
    assert found["outcomes"] == {"attached": 1}
    assert (found["jsonschema"], found["yaml"], found["hub"]) == (True, True, [])


@pytest.mark.usefixtures("world")
def test_a_timer_sweep_loads_what_an_event_leaves_out(
    server: FakeCloudServer, tmp_path: Path
) -> None:
    # GIVEN the compiled mapping
    compiled = tmp_path / "mapping.compiled.json"
    compiled.write_bytes(compile_mapping(MAPPING))
    # WHEN the reconcile handler's first invocation is the timer's sweep
    found = first_invocation(server, compiled, "fc-timer-sweep.json", "reconcile")
    # THEN it imported the sweep's pipeline and thread pools (which the event test refuses)
    assert {"rolebinder.service.sweep", "rolebinder.entrypoints.sweeping"} <= set(
        found["unneeded"]  # type: ignore[arg-type]
    )
    assert "concurrent.futures" in found["unneeded"]  # type: ignore[operator]
    # AND still not the fan-out, the operator tooling or the mapping validator
    assert not {
        "rolebinder.entrypoints.fanout",
        "rolebinder.aliyun.functions",
        "rolebinder.cli",
    } & set(
        found["unneeded"]  # type: ignore[arg-type]
    )
    assert (found["jsonschema"], found["yaml"]) == (False, False)
