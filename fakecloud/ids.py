"""Seeded identifiers: the same seed gives the same ids (moto's MotoRandom idea)."""

from __future__ import annotations

import random
import string
import threading

_ALNUM = string.ascii_lowercase + string.digits
# Zone-ish prefixes real ECS ids start with, per region (only the look matters).
_REGION_PREFIX = {
    "cn-hangzhou": "bp1",
    "cn-shanghai": "uf6",
    "cn-beijing": "2ze",
    "cn-shenzhen": "wz9",
}


class IdFactory:
    """Makes ids that look like Alibaba Cloud's, from one seeded random source."""

    def __init__(self, seed: int | str | None = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def _chars(self, n: int, alphabet: str = _ALNUM) -> str:
        with self._lock:
            return "".join(self._random.choice(alphabet) for _ in range(n))

    def instance_id(self, region: str) -> str:
        return f"i-{_REGION_PREFIX.get(region, 'rj9')}{self._chars(17)}"

    def request_id(self) -> str:
        hexdigits = self._chars(32, "0123456789ABCDEF")
        parts = (hexdigits[:8], hexdigits[8:12], hexdigits[12:16], hexdigits[16:20], hexdigits[20:])
        return "-".join(parts)

    def alnum(self, n: int) -> str:
        return self._chars(n)

    def digits(self, n: int) -> str:
        return self._chars(n, string.digits)

    def ip_suffix(self) -> int:
        with self._lock:
            return self._random.randint(2, 250)
