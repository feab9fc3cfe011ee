"""The reserved tags rolebinder writes around each role write, batched (rolebinder.service.binder
uses it).

- Before a fresh attach: `rolebinder:role=<role>` (ownership) and `rolebinder:changes` (flap
  damping), in one TagResources call per 50 instances that get the same values.
- After a replace: the same, naming the new role.
- After a detach: the marker removed (UntagResources) and the change recorded.
The ECS tag APIs set one set of values per call, so instances are grouped by the values they
get; fresh instances (no history yet) share them, which keeps the attach path's batches whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rolebinder.aliyun.ecs import TAG_BATCH, chunks
from rolebinder.aliyun.side_by_side import side_by_side
from rolebinder.domain.instance import Instance
from rolebinder.domain.ownership import (
    CHANGES_KEY,
    DEFAULT_DEPLOYMENT,
    MARKER_KEY,
    OWNER_KEY,
    with_change,
)
from rolebinder.errors import CloudError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Protocol

else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time


class TagPort(Protocol):
    def tag_instances(self, tags: dict[str, str], instance_ids: Sequence[str]) -> set[str]: ...
    def untag_instances(self, keys: Sequence[str], instance_ids: Sequence[str]) -> set[str]: ...


class ChangeLog(Value):
    """How to record a change at `now` (flap damping): the last `keep` times within `window`."""

    now: float
    window: float
    keep: int

    def after_change(self, instance: Instance) -> str:
        return with_change(instance.tags.get(CHANGES_KEY), self.now, self.window, self.keep)


class MarkResult(Value):
    """Which instances were marked, which answered with an error, which had vanished."""

    marked: set[str]
    refused: dict[str, CloudError]
    gone: set[str]


class Markers:
    """Writes ownership markers and change records for (instance, role) pairs."""

    def __init__(
        self, ecs: TagPort, changes: ChangeLog | None = None, owner: str = DEFAULT_DEPLOYMENT
    ) -> None:
        self.ecs = ecs
        self.changes = changes
        self.owner = owner

    def mark(self, targets: Iterable[tuple[Instance, str]]) -> MarkResult:
        """Tag each instance with its role's marker (and its change record). The calls of one
        mark (two for a batch of 100) go out side by side: the attach waits for all of them."""
        result = MarkResult(set(), {}, set())
        batches = [
            (tags, batch)
            for tags, ids in self._groups(targets, with_marker=True)
            for batch in chunks(ids, TAG_BATCH)
        ]
        for (_, batch), tagged in zip(batches, side_by_side(self._tag, batches), strict=True):
            if isinstance(tagged, CloudError):
                result.refused.update(dict.fromkeys(batch, tagged))
                continue
            result.marked.update(tagged)
            result.gone.update(set(batch) - tagged)
        return result

    def _tag(self, job: tuple[dict[str, str], list[str]]) -> set[str] | CloudError:
        try:
            return self.ecs.tag_instances(*job)
        except CloudError as error:
            return error

    def unmark(self, instances: Sequence[Instance]) -> dict[str, CloudError]:
        """Remove the marker of detached instances (and record the change)."""
        failures: dict[str, CloudError] = {}
        ids = [instance.instance_id for instance in instances]
        for batch in chunks(ids, TAG_BATCH):
            failures.update(
                self._try(lambda b: self.ecs.untag_instances([MARKER_KEY, OWNER_KEY], b), batch)
            )
        for tags, group in self._groups(((i, "") for i in instances), with_marker=False):
            for batch in chunks(group, TAG_BATCH):
                failures.update(self._try(lambda b, t=tags: self.ecs.tag_instances(t, b), batch))
        return failures

    def _groups(
        self, targets: Iterable[tuple[Instance, str]], with_marker: bool
    ) -> list[tuple[dict[str, str], list[str]]]:
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for instance, role in targets:
            tags = {MARKER_KEY: role, OWNER_KEY: self.owner} if with_marker else {}
            if self.changes is not None:
                tags[CHANGES_KEY] = self.changes.after_change(instance)
            if tags:
                # Built in one order every time, so the marker is always Tag.1.
                groups.setdefault(tuple(tags.items()), []).append(instance.instance_id)
        return [(dict(key), ids) for key, ids in groups.items()]

    @staticmethod
    def _try(write: Callable[[list[str]], set[str]], batch: list[str]) -> dict[str, CloudError]:
        try:
            write(batch)
        except CloudError as error:
            return dict.fromkeys(batch, error)
        return {}
