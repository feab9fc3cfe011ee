"""Cold start: with the compiled mapping the build writes, a handler's import and first
invocation never import jsonschema or PyYAML (checked in a fresh interpreter); with a plain YAML
mapping they do, which shows the check can fail."""

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
import json, sys
from functions.instance_events import index
summary = index.handler(open(sys.argv[1], "rb").read(), None)
loaded = lambda name: any(m == name or m.startswith(name + ".") for m in sys.modules)
hub = ["aliyunsdksts", "aliyunsdkresourcemanager", "alibabacloud_fc20230330", "Tea"]
print(json.dumps({"outcomes": summary["outcomes"], "jsonschema": loaded("jsonschema"),
                  "yaml": loaded("yaml"), "hub": [m for m in hub if loaded(m)]}))
"""


def first_invocation(server: FakeCloudServer, mapping: Path) -> dict[str, object]:
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
    event = EVENTS / "eventbridge-ecs-instance-statechange-created.json"
    command = [sys.executable, "-c", FIRST_INVOCATION, str(event)]
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
    assert found == {"outcomes": {"attached": 1}, "jsonschema": False, "yaml": False, "hub": []}


@pytest.mark.usefixtures("world")
def test_a_plain_mapping_still_goes_through_the_full_validator(server: FakeCloudServer) -> None:
    found = first_invocation(server, MAPPING)
    assert found == {"outcomes": {"attached": 1}, "jsonschema": True, "yaml": True, "hub": []}
