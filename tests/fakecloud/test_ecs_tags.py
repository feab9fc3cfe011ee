"""ECS tag actions: TagResources, UntagResources, AddTags, RemoveTags, ListTagResources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from aliyunsdkecs.request.v20140526.AddTagsRequest import AddTagsRequest
from aliyunsdkecs.request.v20140526.ListTagResourcesRequest import ListTagResourcesRequest
from aliyunsdkecs.request.v20140526.RemoveTagsRequest import RemoveTagsRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkecs.request.v20140526.UntagResourcesRequest import UntagResourcesRequest

from fakecloud import FakeCloud
from tests.fakecloud.builders import assert_error, run, seed_vpc, server_error
from tests.support import REGION, call

UNKNOWN = "i-bp1doesnotexist0000"


def pairs(tags: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    items = tags.items() if isinstance(tags, Mapping) else tags
    return [{"Key": k, "Value": v} for k, v in items]


def tag(ids: Sequence[str], tags: Mapping[str, str] | Sequence[tuple[str, str]]):
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    if ids:
        request.set_ResourceIds(list(ids))
    if tags:
        request.set_Tags(pairs(tags))
    return request


def untag(ids: Sequence[str], keys: Sequence[str] = (), all_tags: bool | None = None):
    request = UntagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds(list(ids))
    if keys:
        request.set_TagKeys(list(keys))
    if all_tags is not None:
        request.set_All(all_tags)
    return request


def add_tags(instance_id: str, tags: Mapping[str, str]) -> AddTagsRequest:
    request = AddTagsRequest()
    request.set_ResourceType("instance")
    request.set_ResourceId(instance_id)
    request.set_Tags(pairs(tags))
    return request


def remove_tags(instance_id: str, tags: Sequence[tuple[str, str | None]]) -> RemoveTagsRequest:
    request = RemoveTagsRequest()
    request.set_ResourceType("instance")
    request.set_ResourceId(instance_id)
    request.set_Tags([{"Key": k, "Value": v} for k, v in tags])
    return request


def list_tags(
    ids: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    token: str | None = None,
    resource_type: str = "instance",
) -> ListTagResourcesRequest:
    request = ListTagResourcesRequest()
    request.set_ResourceType(resource_type)
    if ids:
        request.set_ResourceIds(list(ids))
    if tags:
        request.set_Tags([{"Key": k, "Value": v or None} for k, v in tags.items()])
    if token:
        request.set_NextToken(token)
    return request


def tags_of(cloud: FakeCloud, instance_id: str) -> dict[str, str]:
    return dict(cloud.ecs(REGION).instances[instance_id].tags)


@pytest.fixture
def instance(cloud: FakeCloud, client) -> str:
    seed_vpc(cloud)
    [instance_id] = run(client, tags={"team": "payments"})
    return instance_id


# -- TagResources / UntagResources ---------------------------------------------------------


def test_tag_resources_adds_and_overwrites(cloud: FakeCloud, client, instance: str) -> None:
    body = call(client, tag([instance], {"team": "search", "env": "prod"}))

    assert set(body) == {"RequestId"}
    assert tags_of(cloud, instance) == {"team": "search", "env": "prod"}


def test_tag_resources_tags_many_instances(cloud: FakeCloud, client, instance: str) -> None:
    others = run(client, 49)

    call(client, tag([instance, *others], {"env": "prod"}))

    assert all(tags_of(cloud, i)["env"] == "prod" for i in [instance, *others])


def test_an_empty_value_is_a_tag(cloud: FakeCloud, client, instance: str) -> None:
    call(client, tag([instance], {"flag": ""}))

    assert tags_of(cloud, instance) == {"team": "payments", "flag": ""}


def test_untag_resources_removes_keys(cloud: FakeCloud, client, instance: str) -> None:
    call(client, tag([instance], {"env": "prod", "tier": "web"}))

    body = call(client, untag([instance], ["env", "absent"]))

    assert set(body) == {"RequestId"}
    assert tags_of(cloud, instance) == {"team": "payments", "tier": "web"}


def test_untag_all(cloud: FakeCloud, client, instance: str) -> None:
    call(client, untag([instance], all_tags=True))

    assert tags_of(cloud, instance) == {}


def test_untag_all_with_keys_conflicts(cloud: FakeCloud, client, instance: str) -> None:
    error = server_error(client, untag([instance], ["team"], all_tags=True))

    assert_error(error, "Param.Conflict", 403)
    assert error.get_error_msg() == (
        "The specified all is true, but the specified TagKey.N is not empty."
    )
    assert tags_of(cloud, instance) == {"team": "payments"}


def test_untag_needs_keys_or_all(client, instance: str) -> None:
    error = server_error(client, untag([instance], all_tags=False))

    assert_error(error, "MissingParameter.TagKeys", 404)


# -- AddTags / RemoveTags ------------------------------------------------------------------


def test_add_tags_on_one_instance(cloud: FakeCloud, client, instance: str) -> None:
    body = call(client, add_tags(instance, {"team": "search", "env": "dev"}))

    assert set(body) == {"RequestId"}
    assert tags_of(cloud, instance) == {"team": "search", "env": "dev"}


def test_remove_tags_by_key_and_by_key_and_value(cloud: FakeCloud, client, instance: str) -> None:
    # GIVEN three tags
    call(client, tag([instance], {"env": "prod", "tier": "web"}))

    # WHEN one is removed by key, one by a value that matches and one by a value that does not
    call(client, remove_tags(instance, [("env", None), ("tier", "web"), ("team", "other")]))

    # THEN only the mismatched one stays
    assert tags_of(cloud, instance) == {"team": "payments"}


def test_add_tags_to_an_unknown_instance(client) -> None:
    error = server_error(client, add_tags(UNKNOWN, {"env": "prod"}))

    assert_error(error, "InvalidResourceId.NotFound", 404)


# -- limits and validation -----------------------------------------------------------------


def test_more_than_fifty_resources(client, instance: str) -> None:
    ids = [instance] + [f"i-bp1{n:017d}" for n in range(50)]

    error = server_error(client, tag(ids, {"env": "prod"}))

    assert_error(error, "NumberExceed.ResourceIds", 400)


def test_more_than_twenty_tags_in_a_call(cloud: FakeCloud, client, instance: str) -> None:
    error = server_error(client, tag([instance], {f"k{n}": "v" for n in range(21)}))

    assert_error(error, "NumberExceed.Tags", 400)
    assert tags_of(cloud, instance) == {"team": "payments"}


def test_more_than_twenty_keys_to_untag(client, instance: str) -> None:
    error = server_error(client, untag([instance], [f"k{n}" for n in range(21)]))

    assert_error(error, "NumberExceed.Tags", 400)


def test_twenty_tags_per_instance_at_most(cloud: FakeCloud, client, instance: str) -> None:
    # GIVEN an instance with 15 tags
    call(client, tag([instance], {f"k{n}": "v" for n in range(14)}))

    # WHEN 5 existing keys are overwritten and 5 added: 20 in all
    call(
        client,
        tag([instance], {**{f"k{n}": "w" for n in range(5)}, **{f"n{n}": "v" for n in range(5)}}),
    )

    # THEN that is allowed, and one more is refused
    assert len(tags_of(cloud, instance)) == 20
    error = server_error(client, tag([instance], {"one-more": "v"}))
    assert_error(error, "OperationDenied.QuotaExceed", 400)
    assert len(tags_of(cloud, instance)) == 20


def test_quota_is_checked_for_every_instance_before_any_is_tagged(
    cloud: FakeCloud, client, instance: str
) -> None:
    # GIVEN a full instance and an empty one
    [empty] = run(client)
    call(client, tag([instance], {f"k{n}": "v" for n in range(19)}))

    # WHEN both get a new tag
    error = server_error(client, tag([empty, instance], {"new": "v"}))

    # THEN neither got it
    assert_error(error, "OperationDenied.QuotaExceed", 400)
    assert tags_of(cloud, empty) == {}


def test_duplicate_keys_in_one_call(client, instance: str) -> None:
    error = server_error(client, tag([instance], [("env", "a"), ("env", "b")]))

    assert_error(error, "Duplicate.TagKey", 400)


def test_keys_differing_only_by_case(client, instance: str) -> None:
    error = server_error(client, tag([instance], [("Env", "a"), ("env", "b")]))

    assert_error(error, "TagKey.Duplication", 403)


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("aliyun:owner", "x", "InvalidTagKey.Malformed"),
        ("Aliyun-owner", "x", "InvalidTagKey.Malformed"),
        ("acs:owner", "x", "InvalidTagKey.Malformed"),
        ("see-http://example.com", "x", "InvalidTagKey.Malformed"),
        ("k" * 129, "x", "InvalidTagKey.Malformed"),
        ("owner", "acs:team", "InvalidTagValue.Malformed"),
        ("owner", "https://example.com", "InvalidTagValue.Malformed"),
        ("owner", "v" * 129, "InvalidTagValue.Malformed"),
    ],
)
def test_reserved_or_overlong_keys_and_values(
    cloud: FakeCloud, client, instance: str, key: str, value: str, code: str
) -> None:
    error = server_error(client, tag([instance], {key: value}))

    assert_error(error, code, 400)
    assert tags_of(cloud, instance) == {"team": "payments"}


@pytest.mark.parametrize(("key", "value"), [("k" * 128, "v" * 128), ("owner", "aliyun-team")])
def test_longest_keys_and_aliyun_values_are_allowed(
    cloud: FakeCloud, client, instance: str, key: str, value: str
) -> None:
    call(client, tag([instance], {key: value}))

    assert tags_of(cloud, instance)[key] == value


@pytest.mark.parametrize(
    ("leave_out", "code"),
    [
        ("ResourceType", "MissingParameter.ResourceType"),
        ("ResourceId", "MissingParameter.ResourceIds"),
        ("Tag", "MissingParameter.Tags"),
    ],
)
def test_missing_tag_parameters_are_404(client, instance: str, leave_out: str, code: str) -> None:
    request = tag([instance], {"env": "prod"})
    params = request.get_query_params()
    for name in [n for n in params if n.split(".")[0] == leave_out]:
        del params[name]

    error = server_error(client, request)

    assert_error(error, code, 404)


@pytest.mark.parametrize("make", [AddTagsRequest, RemoveTagsRequest])
def test_add_and_remove_tags_need_resource_type(client, instance: str, make) -> None:
    request = make()
    request.set_ResourceId(instance)
    request.set_Tags(pairs({"env": "prod"}))

    error = server_error(client, request)

    assert_error(error, "MissingParameter.ResourceType", 404)


def test_one_unknown_resource_fails_the_whole_call(cloud: FakeCloud, client, instance: str) -> None:
    error = server_error(client, tag([instance, UNKNOWN], {"env": "prod"}))

    assert_error(error, "InvalidResourceId.NotFound", 404)
    assert error.get_error_msg() == "The specified ResourceIds are not found in our records."
    assert tags_of(cloud, instance) == {"team": "payments"}


@pytest.mark.parametrize("resource_type", ["disk", "securitygroup", "bucket"])
def test_only_instances_are_tagged(client, instance: str, resource_type: str) -> None:
    request = tag([instance], {"env": "prod"})
    request.set_ResourceType(resource_type)

    error = server_error(client, request)

    assert_error(error, "InvalidResourceType.NotFound", 404)


# -- ListTagResources ----------------------------------------------------------------------


def test_list_tag_resources_by_id_gives_one_row_per_tag(client, instance: str) -> None:
    call(client, tag([instance], {"env": "prod"}))

    body = call(client, list_tags([instance]))

    assert body["NextToken"] == ""
    assert body["TagResources"]["TagResource"] == [
        {
            "ResourceId": instance,
            "ResourceType": "instance",
            "TagKey": "team",
            "TagValue": "payments",
        },
        {"ResourceId": instance, "ResourceType": "instance", "TagKey": "env", "TagValue": "prod"},
    ]


def test_list_tag_resources_by_tag(client, instance: str) -> None:
    # GIVEN instances tagged differently
    [search] = run(client, tags={"team": "search"})
    run(client, tags={"env": "dev"})

    def found(tags: dict[str, str]) -> set[str]:
        rows = call(client, list_tags(tags=tags))["TagResources"]["TagResource"]
        return {r["ResourceId"] for r in rows}

    # THEN an exact tag matches its value, a key alone matches every value
    assert found({"team": "payments"}) == {instance}
    assert found({"team": ""}) == {instance, search}
    assert found({"team": "nobody"}) == set()


def test_list_tag_resources_pages_by_fifty(client, instance: str) -> None:
    # GIVEN 30 more instances with 3 tags each: 91 rows
    ids = run(client, 30, tags={"a": "1", "b": "2", "c": "3"})

    # WHEN the rows are read by NextToken
    pages, token = [], None
    while True:
        body = call(client, list_tags(tags={"a": "1"}, token=token))
        pages.append(body["TagResources"]["TagResource"])
        token = body["NextToken"]
        if not token:
            break

    # THEN
    assert [len(p) for p in pages] == [50, 40]
    rows = [(r["ResourceId"], r["TagKey"]) for p in pages for r in p]
    assert rows == [(i, k) for i in ids for k in "abc"]


def test_a_tag_value_without_its_key(client, instance: str) -> None:
    request = tag([instance], {})
    request.set_Tags([{"Value": "prod"}])
    listing = list_tags([instance])
    listing.set_Tags([{"Value": "prod"}])

    assert_error(server_error(client, request), "InvalidTag.Mismatch", 400)
    assert_error(server_error(client, listing), "InvalidParameter.TagValue", 400)


def test_list_tag_resources_needs_ids_or_tags(client) -> None:
    error = server_error(client, list_tags())

    assert_error(error, "BothEmpty.TagsAndResources", 403)


@pytest.mark.parametrize("token", ["not-a-token", "-1"])
def test_list_tag_resources_with_a_bad_token(client, instance: str, token: str) -> None:
    error = server_error(client, list_tags([instance], token=token))

    assert_error(error, "Invalid.NextToken", 403)


def test_list_tag_resources_of_another_type(client, instance: str) -> None:
    error = server_error(client, list_tags(tags={"team": "payments"}, resource_type="disk"))

    assert_error(error, "InvalidResourceType.NotFound", 404)


def test_list_tag_resources_of_more_than_fifty_ids(client) -> None:
    error = server_error(client, list_tags([f"i-bp1{n:017d}" for n in range(51)]))

    assert_error(error, "NumberExceed.ResourceIds", 400)
