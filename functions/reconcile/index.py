"""Function Compute handler: the timer sweep that catches whatever events missed.

Receives the FC timer payload and pages through every instance of ROLEBINDER_REGIONS (default:
the function's region), applying the same engine as the event handlers, with memory flat as the
fleet grows. The timer payload may narrow the regions: {"regions": ["cn-hangzhou"]}.

Environment variables and errors: as functions/instance_events/index.py, plus ROLEBINDER_REGIONS.
"""

from __future__ import annotations

from rolebinder.entrypoints.invocation import handle


def handler(event: bytes, context: object) -> dict[str, object]:
    return handle(event, context, function="reconcile")
