"""Where the public docs show more than one shape for the same thing, the fake shows them all.

Each choice is a pure function of the cloud's seed, the facet and a stable key (an instance id,
an event id), so a run is reproducible and does not depend on the order of calls. A client that
only copes with one shape fails against the fake, as it would against the cloud. Pin a facet
with `Shapes(seed, fixed={FACET: value})` to test one shape on purpose.

Facets, with their evidence (docs/research/api-facts.md, section 7):
- BIND_CODE: the per-instance `Code` of an Attach/DetachInstanceRamRole success, the string "200"
  (field table: String; older samples) or the number 200 (current JSON sample).
- CREATION_EVENTS: the StateChange events a launch emits before Starting and Running: Created
  (current notification list), Pending (2019 best practice, 2020 list), or both (2021-04 list).
- EVENT_TIME: an envelope's `time` with +08:00, with Z, or with milliseconds.
- CONTENT_TYPE, ORIGINAL_ACCOUNT: `datacontenttype` and `aliyunoriginalaccountid`, present or not.
- TRAIL_SOURCE: a record's `eventSource`, the product endpoint or the regional one.
- TRAIL_VERSION: `eventVersion` as "1" or as the number 1.
- TRAIL_EXTRAS: `additionalEventData`, `referencedResources`, `userIdentity.sessionContext`
  present or not; TRAIL_NUMBERS: integer-typed `requestParameters` as numbers or as strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

BIND_CODE = "bind-code"
CREATION_EVENTS = "creation-events"
EVENT_TIME = "event-time"
CONTENT_TYPE = "content-type"
ORIGINAL_ACCOUNT = "original-account"
TRAIL_SOURCE = "trail-source"
TRAIL_VERSION = "trail-version"
TRAIL_EXTRAS = "trail-extras"
TRAIL_NUMBERS = "trail-numbers"

# The options of each facet; the first is the shape the fake emitted before it varied them.
OPTIONS: dict[str, tuple[Any, ...]] = {
    BIND_CODE: ("200", 200),
    CREATION_EVENTS: (("Created",), ("Pending",), ("Pending", "Created")),
    EVENT_TIME: ("Z", "+08:00", "millis"),
    CONTENT_TYPE: (True, False),
    ORIGINAL_ACCOUNT: (False, True),
    TRAIL_SOURCE: ("regional", "product"),
    TRAIL_VERSION: ("1", 1),
    TRAIL_EXTRAS: (False, True),
    TRAIL_NUMBERS: (False, True),
}


class Shapes:
    """Seeded, reproducible choices between documented shapes."""

    def __init__(self, seed: int | str = 0, fixed: Mapping[str, Any] | None = None) -> None:
        unknown = set(fixed or {}) - set(OPTIONS)
        if unknown:
            raise ValueError(f"unknown shape facets: {', '.join(sorted(unknown))}")
        self.seed = seed
        self.fixed = dict(fixed or {})

    @classmethod
    def uniform(cls) -> Shapes:
        """Every facet pinned to its first option: one shape, as before the variety."""
        return cls(fixed={facet: options[0] for facet, options in OPTIONS.items()})

    def pick(self, facet: str, key: str) -> Any:
        """The option of `facet` for `key`: fixed, or chosen by hashing the seed and the key."""
        if facet in self.fixed:
            return self.fixed[facet]
        return _choose(OPTIONS[facet], f"{self.seed}|{facet}|{key}")


def _choose(options: Sequence[T], text: str) -> T:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]
