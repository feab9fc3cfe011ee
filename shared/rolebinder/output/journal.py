"""The journal: outcome lines, error lines and the summary line, as JSON, one per line.

Written to stdout, which Function Compute collects into Log Service; each line is one JSON
object so Log Service can index its fields. It keeps counters, not outcomes, so a sweep of a
hundred thousand instances costs no memory here. Nothing secret ever reaches it: outcome fields
are ids, role names and redacted error messages.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

from rolebinder.domain.outcome import FAILED, Outcome

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, TextIO


class Journal:
    """Writes records as JSON lines and counts outcomes."""

    def __init__(
        self, stream: TextIO | None = None, side_stream: TextIO | None = None, **context: Any
    ) -> None:
        # Outcome lines go to `stream`; error and summary lines to `side_stream` (default: the
        # same), so `rolebinder replay` can print only outcomes on stdout.
        self.stream = stream if stream is not None else sys.stdout
        self.side_stream = side_stream if side_stream is not None else self.stream
        self.context = {k: v for k, v in context.items() if v is not None}
        self.outcomes: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.retryable = 0
        self.audited = 0
        self.errors = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def write(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes[outcome.outcome] += 1
            self.reasons[outcome.reason] += 1
            self.retryable += outcome.retryable
            self.audited += outcome.mode == "audit"
        self._emit({**outcome.record(), **self.context}, self.stream)

    def error(self, error: str, message: str, **fields: Any) -> None:
        """A line for something that is not about one instance (bad event, bad configuration)."""
        with self._lock:
            self.errors += 1
        record = {"kind": "error", "error": error, "message": message, **fields, **self.context}
        self._emit(record, self.side_stream)

    def warning(self, warning: str, message: str, **fields: Any) -> None:
        """A line for something odd that is not a failure (alert on it in Log Service)."""
        record = {
            "kind": "warning",
            "warning": warning,
            "message": message,
            **fields,
            **self.context,
        }
        self._emit(record, self.side_stream)

    @property
    def failed(self) -> int:
        return self.outcomes[FAILED]

    def summary(self, **fields: Any) -> dict[str, Any]:
        """The summary record (also written as the last line)."""
        record = {
            "kind": "summary",
            "outcomes": dict(self.outcomes),
            "reasons": dict(self.reasons),
            "retryable_failures": self.retryable,
            "audited": self.audited,
            "errors": self.errors,
            "duration_ms": round((time.monotonic() - self._started) * 1000, 1),
            **fields,
            **self.context,
        }
        self._emit(record, self.side_stream)
        return record

    def _emit(self, record: dict[str, Any], stream: TextIO) -> None:
        # ASCII escapes: a lone surrogate from anywhere can never break the write.
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str)
        with self._lock:
            stream.write(line + "\n")
            stream.flush()
