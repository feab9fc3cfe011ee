"""The client pool keeps a bounded number of SDK clients, reusing the recent ones."""

from __future__ import annotations

from rolebinder.entrypoints.config import Settings
from rolebinder.entrypoints.wiring import ClientPool, Credentials


def test_the_pool_reuses_clients_and_forgets_the_least_recent() -> None:
    pool = ClientPool(Settings())
    key = Credentials("AKID", "secret-value")
    first = pool.client("cn-hangzhou", key)
    assert pool.client("cn-hangzhou", key) is first
    for n in range(ClientPool.MAX_CLIENTS):
        pool.client(f"xx-{n}", key)
    assert pool.client("cn-hangzhou", key) is not first


def test_credentials_never_print_their_secrets() -> None:
    text = repr(Credentials("AKID", "secret-value", "token-value"))
    assert "AKID" in text
    assert "secret-value" not in text
    assert "token-value" not in text
