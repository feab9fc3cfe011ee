"""Function Compute handler: ECS instance creation events.

Receives `ecs:Instance:StateChange` (EventBridge or CloudMonitor shape) and the ActionTrail
`RunInstances` / `CreateInstance` records, alone or in batches, reads each named instance from the
API and binds the instance RAM role the mapping gives it. One JSON outcome line per instance.

Environment variables: ROLEBINDER_MAPPING (required), ROLEBINDER_DRY_RUN, ROLEBINDER_ACCOUNT_ID,
ROLEBINDER_VISIBILITY_WAIT, ROLEBINDER_ROLE_CACHE_SECONDS, ROLEBINDER_API_TIMEOUT,
ROLEBINDER_ECS_ENDPOINT / _RAM_ENDPOINT; credentials from ALIBABA_CLOUD_* or context.credentials
(all in shared/rolebinder/entrypoints/config.py).

Errors: malformed or irrelevant events are journaled and return normally; an invalid mapping
raises; transient API failures left at the deadline raise, so the event is delivered again.
"""

from __future__ import annotations

from rolebinder.entrypoints.invocation import handle


def handler(event: bytes, context: object) -> dict[str, object]:
    return handle(event, context, function="instance_events")
