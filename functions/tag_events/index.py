"""Function Compute handler: tag changes on ECS instances.

Receives `Tag:ChangeOnResource` (CloudMonitor shape or under EventBridge) and the ActionTrail
`TagResources` / `UntagResources` / `AddTags` / `RemoveTags` records. The tags inside the event
are never trusted: each instance's tags are read again from the API before deciding.

Environment variables and errors: as functions/instance_events/index.py.
"""

from __future__ import annotations

from rolebinder.entrypoints.invocation import handle


def handler(event: bytes, context: object) -> dict[str, object]:
    return handle(event, context, function="tag_events")
