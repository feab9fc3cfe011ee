"""What the safety-model tests share: the mapping they start from, and reading the marker."""

from __future__ import annotations

from typing import Any

from fakecloud import FakeCloud
from rolebinder.domain.ownership import MARKER_KEY
from tests.functional.conftest import REGION

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
PAYMENTS_RULE = {"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}


def mapping(**changes: Any) -> dict[str, Any]:
    """Payments for payments-tagged instances; replace and detach allowed (ownership applies)."""
    return {
        "version": 1,
        "roles": ["AppReader", "Payments"],
        "rules": [PAYMENTS_RULE],
        "on_existing_role": "replace",
        "on_no_match": "detach",
        **changes,
    }


def marker(cloud: FakeCloud, instance_id: str) -> str | None:
    """The instance's rolebinder:role marker, as the fake holds it."""
    return cloud.ecs(REGION).instances[instance_id].tags.get(MARKER_KEY)


def line_of(run: Any, instance_id: str) -> tuple[str, str]:
    """(outcome, reason) of the instance's outcome line."""
    line = run.outcome(instance_id)
    return line["outcome"], line["reason"]
