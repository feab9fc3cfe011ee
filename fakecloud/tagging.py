"""Tags on ECS instances: TagResources, UntagResources, AddTags, RemoveTags, ListTagResources.

Limits, codes and messages as documented (docs/research/api-facts.md section 3): up to 50
resources and 20 tags per call, up to 20 tags per instance, keys of 1-128 characters and values
of up to 128, neither starting with `aliyun` or `acs:` nor holding `http://` / `https://`. The tag
APIs answer missing parameters with 404. Only the resource type `instance` is modelled. Every
call that changes an instance's tags emits one tag-change event for it, with the changed keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

from fakecloud.errors import ApiError


class TaggedInstance(Protocol):
    """What tagging needs of an instance: its id and its tags (replaced, never mutated)."""

    instance_id: str
    tags: dict[str, str]


class TagOwner(Protocol):
    """What tagging needs of the ECS backend that owns it; no import of it, so the backend
    holds its TagStore and nothing here reaches back."""

    def find_instance(self, instance_id: str) -> Any: ...
    def iter_instances(self, after_seq: int = 0) -> Iterator[Any]: ...
    def publish(self, kind: str, instance: Any, details: dict[str, object]) -> None: ...


MAX_RESOURCES = 50
MAX_TAGS_PER_CALL = 20
MAX_TAGS_PER_RESOURCE = 20
_RESERVED_KEY = re.compile(r"^(aliyun|acs:)|https?://", re.IGNORECASE)
_RESERVED_VALUE = re.compile(r"^acs:|https?://", re.IGNORECASE)  # values may start with aliyun


class TagStore:
    """Tag operations over the instances of one ECS backend."""

    def __init__(self, backend: TagOwner) -> None:
        self.backend = backend

    def check_new(self, tags: list[tuple[str, str]]) -> None:
        """Validate tags given to RunInstances or a tag call."""
        if len(tags) > MAX_TAGS_PER_CALL:
            raise ApiError(
                "NumberExceed.Tags", "The Tags parameter's number is exceed , Valid : 20."
            )
        keys = [key for key, _ in tags]
        if len(set(keys)) != len(keys):
            raise ApiError("Duplicate.TagKey", "The Tag.N.Key contain duplicate key.")
        if len({key.lower() for key in keys}) != len(keys):
            raise ApiError(
                "TagKey.Duplication",
                "The TagKey has duplication with others, case-insensitive.",
                403,
            )
        for key, value in tags:
            if not 1 <= len(key) <= 128 or _RESERVED_KEY.search(key):
                raise ApiError("InvalidTagKey.Malformed", "The specified Tag.n.Key is not valid.")
            if len(value) > 128 or _RESERVED_VALUE.search(value):
                raise ApiError(
                    "InvalidTagValue.Malformed", "The specified Tag.n.Value is not valid."
                )

    def tag_resources(
        self, resource_type: str, resource_ids: list[str], tags: list[tuple[str, str]]
    ) -> None:
        if not tags:
            raise missing_tag_parameter("Tags")
        self.check_new(tags)
        instances = self._instances(resource_type, resource_ids)
        merged = [(instance, {**instance.tags, **dict(tags)}) for instance in instances]
        if any(len(new_tags) > MAX_TAGS_PER_RESOURCE for _, new_tags in merged):
            raise ApiError(
                "OperationDenied.QuotaExceed",
                "The quota of tags on resource is beyond permitted range.",
            )
        for instance, new_tags in merged:
            self._apply(instance, new_tags)

    def untag_resources(
        self, resource_type: str, resource_ids: list[str], keys: list[str], remove_all: bool
    ) -> None:
        if keys and remove_all:
            raise ApiError(
                "Param.Conflict",
                "The specified all is true, but the specified TagKey.N is not empty.",
                403,
            )
        if not keys and not remove_all:
            raise missing_tag_parameter("TagKey.N", "TagKeys")
        if len(keys) > MAX_TAGS_PER_CALL:
            raise ApiError(
                "NumberExceed.Tags", "The Tags parameter's number is exceed , Valid : 20."
            )
        for instance in self._instances(resource_type, resource_ids):
            kept = {} if remove_all else {k: v for k, v in instance.tags.items() if k not in keys}
            self._apply(instance, kept)

    def add_tags(self, resource_type: str, resource_id: str, tags: list[tuple[str, str]]) -> None:
        self.tag_resources(resource_type, [resource_id], tags)

    def remove_tags(
        self, resource_type: str, resource_id: str, tags: list[tuple[str, str]]
    ) -> None:
        """Remove the given keys (only where the value matches, when a value is given)."""
        if not tags:
            raise missing_tag_parameter("Tags")
        for instance in self._instances(resource_type, [resource_id]):
            kept = {k: v for k, v in instance.tags.items() if not _removes(tags, k, v)}
            self._apply(instance, kept)

    def list_tag_resources(
        self, resource_type: str, resource_ids: list[str], tags: list[tuple[str, str]]
    ) -> list[tuple[str, str, str]]:
        """(resource id, key, value) for every tag of the selected instances, in stable order."""
        if resource_ids:
            instances = self._instances(resource_type, resource_ids)
        elif tags:
            _check_type(resource_type)
            instances = [i for i in self.backend.iter_instances() if _has_all(i, tags)]
        else:
            raise ApiError(
                "BothEmpty.TagsAndResources",
                "The specified Tags and ResourcesIds are not allow to both empty.",
                403,
            )
        return [(i.instance_id, k, v) for i in instances for k, v in i.tags.items()]

    def _instances(self, resource_type: str, resource_ids: list[str]) -> list[TaggedInstance]:
        _check_type(resource_type)
        if not resource_ids:
            raise missing_tag_parameter("ResourceIds.N", "ResourceIds")
        if len(resource_ids) > MAX_RESOURCES:
            raise ApiError(
                "NumberExceed.ResourceIds",
                "The ResourceIds parameter's number is exceed , Valid : 50.",
            )
        instances = [self.backend.find_instance(i) for i in dict.fromkeys(resource_ids)]
        found = [i for i in instances if i is not None]
        if len(found) != len(instances):
            # choice: one unknown id fails the whole call and nothing is tagged.
            raise ApiError(
                "InvalidResourceId.NotFound",
                "The specified ResourceIds are not found in our records.",
                404,
            )
        return found

    def _apply(self, instance: TaggedInstance, new_tags: dict[str, str]) -> None:
        changed = sorted(
            k for k in set(instance.tags) | set(new_tags) if instance.tags.get(k) != new_tags.get(k)
        )
        instance.tags = new_tags
        if changed:
            self.backend.publish("tags", instance, {"changed_keys": changed})


def _check_type(resource_type: str) -> None:
    if resource_type.lower() != "instance":
        raise ApiError(
            "InvalidResourceType.NotFound",
            "The ResourceType provided does not exist in our records.",
            404,
        )


def missing_tag_parameter(parameter: str, code_suffix: str | None = None) -> ApiError:
    """The tag APIs' own answer to a missing parameter: 404, "should not be null"."""
    return ApiError(
        f"MissingParameter.{code_suffix or parameter}",
        f"The parameter - {parameter} should not be null.",
        404,
    )


def _removes(tags: list[tuple[str, str]], key: str, value: str) -> bool:
    return any(k == key and (not v or v == value) for k, v in tags)


def _has_all(instance: TaggedInstance, tags: list[tuple[str, str]]) -> bool:
    return all(k in instance.tags and (not v or instance.tags[k] == v) for k, v in tags)
