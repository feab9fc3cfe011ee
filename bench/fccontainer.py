"""One warm Function Compute container of the reconcile function, in a child process.

`Container` starts `python -m bench.fccontainer` with the function's environment; every
invocation sent to it runs the real reconcile handler on its own thread (FC 3.0 lets one
instance serve concurrent requests), and its summary comes back on the child's own channel
(the handler's outcome lines go to /dev/null: still rendered and written, that is engine
work). The child's caches (member credentials, role checks, pacers, clients) live as long as
the container, as in a warm FC instance.

`Container.callback` is what the fake's FC registry calls for an asynchronous InvokeFunction,
so a hub's fan-out runs each account's invocation here as FC would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import IO, Any

from bench.harness import ROOT, context, handler

FUNCTION_TIMEOUT = 900  # FC's maximum for an event function, in seconds
# Inherited variables that would change what the function does; the container gets only the
# ones its environment names.
_PREFIXES = ("ROLEBINDER_", "ALIBABA_CLOUD_", "ALIYUN_", "FC_")


class Container:
    """A warm reconcile container in a child process; `invoke` runs one invocation there."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
        env.update(environment)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fccontainer"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._waiting: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._next = 0
        self.replies: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, name="container-replies", daemon=True)
        self._reader.start()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def invoke(self, body: bytes, timeout: float = FUNCTION_TIMEOUT) -> dict[str, Any]:
        """Run one invocation in the container and wait for it: its summary (or error),
        wall time and the thread's CPU time."""
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._next += 1
            ident = self._next
            self._waiting[ident] = future
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"id": ident, "body": body.decode()}) + "\n")
            self.process.stdin.flush()
        return future.result(timeout)

    def callback(self, body: bytes) -> None:
        """The fake's FC registry runs this for each asynchronous invocation."""
        reply = self.invoke(body)
        if "error" in reply:
            raise RuntimeError(reply["error"])

    def cpu_seconds(self) -> float:
        """The child's CPU time so far (user + system), from /proc."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            reply = json.loads(line)
            with self._lock:
                self.replies.append(reply)
                future = self._waiting.pop(reply["id"], None)
            if future is not None:
                future.set_result(reply)


# -- the child --------------------------------------------------------------------------------


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Run each request line's invocation on its own thread; one reply line per invocation."""
    reconcile = handler("reconcile")
    lock = threading.Lock()

    def run(request: dict[str, Any]) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            summary = reconcile(request["body"].encode(), context("reconcile", FUNCTION_TIMEOUT))
            reply["summary"] = summary
        except Exception as error:  # reported to the caller: FC would record a failed run
            reply["error"] = f"{type(error).__name__}: {error}"
        reply["wall_s"] = round(time.perf_counter() - started, 4)
        reply["thread_cpu_s"] = round(time.thread_time() - cpu, 4)
        with lock:
            replies.write(json.dumps(reply, default=str) + "\n")
            replies.flush()

    threads = []
    for line in requests:
        thread = threading.Thread(target=run, args=(json.loads(line),), name="invocation")
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def main() -> None:
    # Replies go on a duplicate of the real stdout; the handlers' outcome lines to /dev/null.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process's life
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
