"""FC 3.0 (2023-03-30) `InvokeFunction`, asynchronous only, and the functions it may reach.

`POST /2023-03-30/functions/{functionName}/invocations[?qualifier=...]`, signed with ACS3
(`acs3`), header `x-fc-invocation-type: Async` (docs/research/multi-account.md section 5).

- The function's account is the caller's. Its region comes from the Host header when it names
  one (`fcv3.<region>.aliyuncs.com`, `<account>.<region>.fc.aliyuncs.com`, `<region>.fc...`);
  the Tea SDK sends no region otherwise. Reached as 127.0.0.1, the fake takes the one region
  where that account registered that function name (our choice; two regions: 400).
- Checked in this order (our choice): path, signature, invocation type, payload size, function
  found, `fc:InvokeFunction` on `acs:fc:<region>:<account>:functions/<name>`.
- Async: 202 and an empty body (the docs are silent on 202 vs 200: our choice), the callback
  then runs on its own thread. Sync (the default type) is refused with 400 InvalidArgument:
  the fake does not model it. Over 128 KB (131,072 bytes) of payload: 400 InvalidArgument.
- A callback's exception is recorded on its `Invocation`, not retried (our choice: local mode's
  bus models FC's retries itself).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from fakecloud.acs3 import HttpRequest
from fakecloud.errors import ApiError

FunctionCallback = Callable[[bytes], object]
ASYNC_PAYLOAD_LIMIT = 128 * 1024
INVOKE_PATH = re.compile(r"^/2023-03-30/functions/(?P<name>[^/]+)/invocations$")
_REGION_HOSTS = (
    re.compile(r"^fcv3\.(?P<region>[a-z0-9-]+)\.aliyuncs\.com$"),
    re.compile(r"^(?:[0-9]+\.)?(?P<region>[a-z0-9-]+)\.fc\.aliyuncs\.com$"),
)


@dataclass
class Invocation:
    """One accepted asynchronous invocation and, once run, how its callback ended."""

    account_id: str
    region: str
    function_name: str
    qualifier: str
    body: bytes
    request_id: str
    task_id: str = ""
    error: BaseException | None = None
    done: bool = False


class FunctionRegistry:
    """(account id, region, function name) -> the callback that runs the function."""

    def __init__(self) -> None:
        self._functions: dict[tuple[str, str, str], FunctionCallback] = {}
        self.invocations: list[Invocation] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def register(
        self, account_id: str, region: str, function_name: str, callback: FunctionCallback
    ) -> None:
        """Make `function_name` invocable in that account and region; `callback(body)` runs it."""
        with self._lock:
            self._functions[(account_id, region, function_name)] = callback

    def unregister(self, account_id: str, region: str, function_name: str) -> None:
        with self._lock:
            self._functions.pop((account_id, region, function_name), None)

    def find(self, account_id: str, region: str | None, name: str) -> tuple[str, FunctionCallback]:
        """The function's region and callback; raises FC's documented 404 when absent."""
        with self._lock:
            found = [
                (r, callback)
                for (a, r, n), callback in self._functions.items()
                if a == account_id and n == name and region in (None, r)
            ]
        if len(found) > 1:
            raise ApiError(
                "InvalidArgument",
                f"function '{name}' exists in several regions; the fake learns the region from "
                "the Host header (fcv3.<region>.aliyuncs.com)",
            )
        if not found:
            raise ApiError("FunctionNotFound", f"function '{name}' does not exist.", 404)
        return found[0]

    def start(self, invocation: Invocation, callback: FunctionCallback) -> None:
        """Run the callback on its own thread: the caller never waits for the function."""
        thread = threading.Thread(
            target=self._run, args=(invocation, callback), name="fake-fc", daemon=True
        )
        with self._lock:
            self.invocations.append(invocation)
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait for every started invocation to end; True when all did within `timeout`."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return all(invocation.done for invocation in list(self.invocations))

    @staticmethod
    def _run(invocation: Invocation, callback: FunctionCallback) -> None:
        try:
            callback(invocation.body)
        except Exception as error:  # recorded for the test or local mode to read
            invocation.error = error
        finally:
            invocation.done = True


def function_name(path: str) -> str | None:
    match = INVOKE_PATH.match(path)
    return unquote(match["name"]) if match else None


def host_region(host: str) -> str | None:
    """The region a Host header names, if any (the port is ignored)."""
    name = host.rsplit(":", 1)[0] if ":" in host else host
    for pattern in _REGION_HOSTS:
        match = pattern.match(name.lower())
        if match:
            return match["region"]
    return None


def qualifier(request: HttpRequest) -> str:
    return dict(parse_qsl(request.query)).get("qualifier", "LATEST")  # FC's default qualifier


def check_async(request: HttpRequest) -> None:
    """Only asynchronous invocations are modelled; their payload limit is FC's 128 KB."""
    kind = request.headers.get("x-fc-invocation-type", "Sync")
    if kind.lower() != "async":
        raise ApiError(
            "InvalidArgument",
            f"invocation type {kind!r} is not supported by the fake cloud: only Async is",
        )
    if len(request.body) > ASYNC_PAYLOAD_LIMIT:
        raise ApiError(
            "InvalidArgument",
            f"payload size {len(request.body)} exceeds the maximum allowed size "
            f"({ASYNC_PAYLOAD_LIMIT} bytes) of an asynchronous invocation",
        )
