"""Seed files: a declared world (keys, roles, VPCs, instances) loaded from YAML or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest

import fakecloud.seed as seed_module
from fakecloud import FakeCloud, FakeCloudServer, ManualClock, SeedError, apply_seed, load_seed_file
from tests.fakecloud.builders import (
    assert_error,
    attach_request,
    describe,
    instance_ids,
    run,
    server_error,
)
from tests.support import call, make_client

SEED: dict[str, Any] = {
    "account_id": "1234567890123456",
    "keys": [
        {
            "access_key_id": "LTAI5tSeededReader",
            "access_key_secret": "seeded-secret",
            "allowed_actions": ["ecs:DescribeInstances"],
        }
    ],
    "roles": [
        {"name": "AppReader", "description": "reads"},
        {"name": "FcOnly", "trusted_services": ["fc.aliyuncs.com"]},
    ],
    "regions": {
        "cn-hangzhou": {
            "vpcs": [
                {
                    "vpc_id": "vpc-bp1demo",
                    "vswitches": [
                        {
                            "vswitch_id": "vsw-bp1demo",
                            "zone_id": "cn-hangzhou-h",
                            "cidr": "172.16.1.0/24",
                        }
                    ],
                }
            ],
            "instances": [
                {
                    "instance_id": "i-bp1demo0001",
                    "vswitch_id": "vsw-bp1demo",
                    "tags": {"team": "payments"},
                    "status": "Running",
                    "role": "AppReader",
                    "resource_group_id": "rg-demo",
                    "name": "web-1",
                },
                {"instance_id": "i-bp1demo0002", "vswitch_id": "vsw-bp1demo", "status": "Stopped"},
                {"instance_id": "i-bp1classic01", "network": "classic"},
            ],
        }
    },
}


def write(tmp_path: Path, suffix: str, document: Any) -> Path:
    path = tmp_path / f"seed{suffix}"
    text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    path.write_text(text, encoding="utf-8")
    return path


def with_change(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of SEED with the value at `path` replaced."""
    document = json.loads(json.dumps(SEED))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_seed_file_declares_the_world(
    cloud: FakeCloud, server: FakeCloudServer, client, tmp_path: Path, suffix: str
) -> None:
    # GIVEN a seed file
    apply_seed(cloud, load_seed_file(write(tmp_path, suffix, SEED)))

    # WHEN the world is described through the API
    body = describe(client)
    instances = {i["InstanceId"]: i for i in body["Instances"]["Instance"]}
    roles = DescribeInstanceRamRoleRequest()
    roles.set_RamRoleName("AppReader")
    bound = call(client, roles)["InstanceRamRoleSets"]["InstanceRamRoleSet"]

    # THEN it is what the file declares
    assert list(instances) == ["i-bp1demo0001", "i-bp1demo0002", "i-bp1classic01"]
    web = instances["i-bp1demo0001"]
    assert (web["InstanceName"], web["Status"], web["ResourceGroupId"]) == (
        "web-1",
        "Running",
        "rg-demo",
    )
    assert web["Tags"] == {"Tag": [{"TagKey": "team", "TagValue": "payments"}]}
    assert (web["VpcAttributes"]["VpcId"], web["ZoneId"]) == ("vpc-bp1demo", "cn-hangzhou-h")
    assert web["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0].startswith("172.16.1.")
    assert instances["i-bp1demo0002"]["Status"] == "Stopped"
    assert instances["i-bp1classic01"]["InstanceNetworkType"] == "classic"
    assert bound == [{"InstanceId": "i-bp1demo0001", "RamRoleName": "AppReader"}]


def test_seeded_roles_and_keys_work(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    # GIVEN the seed
    apply_seed(cloud, SEED)
    reader = make_client(
        server, access_key_id="LTAI5tSeededReader", access_key_secret="seeded-secret"
    )
    get = GetRoleRequest()
    get.set_RoleName("AppReader")

    # WHEN
    role = call(client, get)["Role"]
    seen = instance_ids(describe(reader))
    not_ecs = server_error(client, attach_request(["i-bp1demo0002"], "FcOnly"))
    refused = server_error(reader, attach_request(["i-bp1demo0002"], "AppReader"))

    # THEN
    assert role["Description"] == "reads"
    assert len(seen) == 3
    assert_error(not_ecs, "InvalidRamRole.NotEcsRole", 404)
    assert_error(refused, "Forbidden.RAM", 403)


def test_seeding_emits_no_events(cloud: FakeCloud) -> None:
    apply_seed(cloud, SEED)

    assert cloud.events.since(0) == []


def test_seeded_instances_live_on(cloud: FakeCloud, client) -> None:
    # GIVEN a seeded VPC and a seeded stopped instance
    apply_seed(cloud, SEED)

    # WHEN new instances are run into the seeded vSwitch
    [new] = run(client, vswitch_id="vsw-bp1demo")

    # THEN they come after the seeded ones
    assert instance_ids(describe(client))[-1] == new


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (
            ("regions", "cn-hangzhou", "instances", 0, "status"),
            "Flying",
            "regions/cn-hangzhou/instances/0/status",
        ),
        (
            ("regions", "cn-hangzhou", "instances", 1, "instance_id"),
            "vm-2",
            "regions/cn-hangzhou/instances/1/instance_id",
        ),
        (("roles", 0, "colour"), "blue", "roles/0"),
        (("keys", 0, "access_key_secret"), 42, "keys/0/access_key_secret"),
        (("account_id",), "abc", "account_id"),
        (("unknown",), True, "<root>"),
    ],
)
def test_schema_errors_name_the_path(
    cloud: FakeCloud, path: tuple[Any, ...], value: Any, named: str
) -> None:
    with pytest.raises(SeedError) as caught:
        apply_seed(cloud, with_change(path, value))

    assert f"seed {named}:" in str(caught.value)


def test_an_unknown_region_is_refused(cloud: FakeCloud) -> None:
    document = {"regions": {"mars-north-1": {}}}

    with pytest.raises(SeedError, match="regions"):
        apply_seed(cloud, document)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("regions", "cn-hangzhou", "instances", 1, "vswitch_id"),
            "vsw-undeclared",
            "instance i-bp1demo0002",
        ),
        (
            ("regions", "cn-hangzhou", "instances", 2, "role"),
            "AppReader",
            "instance i-bp1classic01",
        ),
        (("regions", "cn-hangzhou", "instances", 1, "role"), "Undeclared", "role Undeclared"),
    ],
)
def test_consistency_errors_name_the_instance_or_role(
    cloud: FakeCloud, path: tuple[Any, ...], value: Any, message: str
) -> None:
    with pytest.raises(SeedError, match=message):
        apply_seed(cloud, with_change(path, value))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions: [unclosed", "cannot read seed file"),
        ("- just\n- a list\n", "the top level must be a mapping"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(SeedError) as caught:
        load_seed_file(path)

    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match=r"nothing\.yaml"):
        load_seed_file(tmp_path / "nothing.yaml")


def test_the_same_seed_gives_the_same_ids() -> None:
    def ids_of(seed: int) -> list[str]:
        cloud = FakeCloud(seed=seed, clock=ManualClock())
        cloud.ecs("cn-hangzhou").add_vswitch("vsw-a", "vpc-a", "cn-hangzhou-h", "10.0.0.0/24")
        with FakeCloudServer(cloud) as server:
            client = make_client(server)
            return run(client, 3, vswitch_id="vsw-a") + run(client, vswitch_id="vsw-a")

    first, again, other = ids_of(7), ids_of(7), ids_of(8)

    assert first == again
    assert len(set(first)) == 4
    assert set(first).isdisjoint(other)


def test_the_example_seed_in_the_docstring_loads(cloud: FakeCloud, tmp_path: Path) -> None:
    # The module docstring is what people copy; it must stay a valid seed.
    doc = seed_module.__doc__ or ""
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    document = yaml.safe_load(example)
    del document["keys"]  # its policy is an elided placeholder

    apply_seed(cloud, document)

    assert set(cloud.ecs("cn-hangzhou").instances) == {"i-bp1demo0001", "i-bp1classic01"}


def test_a_duplicate_instance_id_is_a_seed_error(cloud: FakeCloud) -> None:
    document = with_change(
        ("regions", "cn-hangzhou", "instances", 1, "instance_id"), "i-bp1demo0001"
    )

    with pytest.raises(SeedError, match="i-bp1demo0001"):
        apply_seed(cloud, document)


@pytest.mark.parametrize("name", ["has space", "AppReader"])
def test_a_bad_or_existing_role_is_a_seed_error(cloud: FakeCloud, name: str) -> None:
    # GIVEN a role AppReader already exists
    apply_seed(cloud, {"roles": [{"name": "AppReader"}]})

    # WHEN a seed declares `name`
    with pytest.raises(SeedError, match=f"role {name}"):
        apply_seed(cloud, {"roles": [{"name": name}]})
