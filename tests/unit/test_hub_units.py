"""The hub's pure parts: settings, routed events, timer narrowing, the credential cache's
timing, the fan-out payload and the STS session name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolebinder.aliyun.credentials import Credentials, TemporaryCredentials
from rolebinder.aliyun.sts import MAX_SESSION_NAME, role_arn, session_name
from rolebinder.domain import reasons
from rolebinder.entrypoints.config import Settings
from rolebinder.entrypoints.fanout import shard_event
from rolebinder.errors import CloudError, EventError, InputError
from rolebinder.intake.events import (
    KIND_INSTANCE_STATE,
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    exclude_foreign,
    parse_delivery,
)
from rolebinder.service.accounts import CredentialCache, MemberList

HUB, MEMBER, OTHER = "1000000000000001", "2000000000000002", "3000000000000003"

# -- settings -------------------------------------------------------------------------------------


def test_no_accounts_is_a_single_account_deployment() -> None:
    settings = Settings.from_env({})
    assert not settings.is_hub
    assert settings.member_role == "rolebinder-member"
    assert settings.reconcile_function is None


@pytest.mark.parametrize(
    ("raw", "listed", "rd"),
    [
        (f"{MEMBER}, {OTHER},{MEMBER}", (MEMBER, OTHER), False),
        ("rd", (), True),
        (" rd ", (), True),
    ],
)
def test_accounts_are_ids_or_rd(raw: str, listed: tuple[str, ...], rd: bool) -> None:
    settings = Settings.from_env({"ROLEBINDER_ACCOUNTS": raw})
    assert (settings.member_accounts, settings.accounts_from_directory) == (listed, rd)
    assert settings.is_hub


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ROLEBINDER_ACCOUNTS", "1234,acme", "'acme' is not an account id"),
        ("ROLEBINDER_ACCOUNTS", "rd,1234", "'rd' is not an account id"),
        ("ROLEBINDER_MEMBER_ROLE", "role/admin", "is not a RAM role name"),
        ("ROLEBINDER_MEMBER_ROLE", "x" * 65, "is not a RAM role name"),
        ("ROLEBINDER_RECONCILE_FUNCTION", "a b", "is not a Function Compute function name"),
    ],
)
def test_bad_hub_settings_fail_loudly(name: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Settings.from_env({name: value})


# -- routed events --------------------------------------------------------------------------------


def state_event(**attributes: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "e-1",
        "source": "acs.ecs",
        "type": "ecs:Instance:StateChange",
        "aliyunregionid": "cn-hangzhou",
        **attributes,
        "data": {
            "resourceId": "i-bp1member01",
            "state": "Running",
            "resourceType": "ALIYUN::ECS::Instance",
        },
    }


@pytest.mark.parametrize(
    ("attributes", "account"),
    [
        ({"aliyunaccountid": MEMBER}, MEMBER),  # not routed
        ({"aliyunaccountid": HUB, "aliyunoriginalaccountid": MEMBER}, MEMBER),  # rewritten
        ({"aliyunaccountid": MEMBER, "aliyunoriginalaccountid": MEMBER}, MEMBER),  # kept
    ],
    ids=["own-bus", "routed-receiver-id", "routed-sender-id"],
)
def test_a_routed_event_is_about_its_sender(attributes: dict[str, str], account: str) -> None:
    [check] = parse_delivery(json.dumps(state_event(**attributes)))
    assert isinstance(check, InstanceCheck)
    assert check.account_id == account


def test_a_malformed_original_account_is_refused() -> None:
    with pytest.raises(EventError, match="invalid account id"):
        parse_delivery(json.dumps(state_event(aliyunoriginalaccountid="12ab")))


def test_members_are_served_and_other_accounts_stay_foreign() -> None:
    checks = [
        InstanceCheck((f"i-bp1{n}",), "cn-hangzhou", account, f"e-{n}", KIND_INSTANCE_STATE, "x")
        for n, account in enumerate((HUB, MEMBER, OTHER, None))
    ]
    result = exclude_foreign(checks, HUB, (MEMBER,))
    assert result[0] == checks[0] and result[1] == checks[1] and result[3] == checks[3]
    assert isinstance(result[2], IgnoredEvent)
    assert result[2].reason == reasons.FOREIGN_ACCOUNT
    assert result[2].detail == (
        f"event for account {OTHER}; this function serves account {HUB} and 1 member account(s)"
    )


# -- timer narrowing ------------------------------------------------------------------------------


def timer(payload: object) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return json.dumps({"triggerTime": "2026-12-04T10:00:00Z", "triggerName": "t", "payload": text})


def test_a_timer_payload_may_name_accounts() -> None:
    [sweep] = parse_delivery(
        timer({"accounts": [MEMBER, OTHER, MEMBER], "regions": ["cn-beijing"]})
    )
    assert isinstance(sweep, SweepRequest)
    assert (sweep.account_ids, sweep.regions) == ((MEMBER, OTHER), ("cn-beijing",))


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ("1234", "expected a list of account ids"),
        (["12x"], "invalid account id"),
        ([1234], "invalid account id"),
        ([str(n) for n in range(1001)], "1001 accounts, more than the 1000 accepted"),
    ],
)
def test_a_bad_account_list_is_refused(accounts: object, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_delivery(timer({"accounts": accounts}))


def test_the_fan_out_event_parses_back_to_its_shard() -> None:
    event = shard_event(MEMBER, ["cn-hangzhou", "cn-beijing"], "2026-12-04T10:00:00Z")
    [sweep] = parse_delivery(event)
    assert sweep == SweepRequest(
        "timer:fanout:2026-12-04T10:00:00Z",
        "fanout",
        "2026-12-04T10:00:00Z",
        ("cn-hangzhou", "cn-beijing"),
        (MEMBER,),
    )
    assert len(event) < 1024  # far below the 128 KB async limit


# -- STS names ------------------------------------------------------------------------------------


def test_session_names_fit_both_documented_limits() -> None:
    assert session_name("rolebinder") == "rolebinder.rolebinder"
    long = session_name("x" * 64)
    assert len(long) == MAX_SESSION_NAME and long.startswith("rolebinder.x")
    assert role_arn(MEMBER, "rolebinder-member") == f"acs:ram::{MEMBER}:role/rolebinder-member"


# -- the credential cache -------------------------------------------------------------------------


class Sts:
    """STS as the cache sees it: each call answers fresh credentials valid `ttl` seconds."""

    def __init__(self, clock: list[float], ttl: float = 3600.0, fail: str | None = None) -> None:
        self.clock, self.ttl, self.fail = clock, ttl, fail
        self.calls: list[tuple[str, str, int]] = []

    def assume_role(self, arn: str, session: str, seconds: int = 3600) -> TemporaryCredentials:
        self.calls.append((arn, session, seconds))
        if self.fail:
            raise CloudError("AssumeRole", self.fail, "refused")
        key = Credentials(f"STS.{len(self.calls)}", "secret", "token")
        return TemporaryCredentials(key, self.clock[0] + self.ttl)


def test_credentials_are_reused_until_shortly_before_they_expire() -> None:
    clock = [1_000_000.0]
    sts = Sts(clock)
    cache = CredentialCache("rolebinder-member", "rolebinder.x", 900.0, lambda: clock[0])

    first = cache.credentials(MEMBER, sts)
    clock[0] += 3600 - 900 - 1  # one second before the refresh margin
    assert cache.credentials(MEMBER, sts) is first
    clock[0] += 1
    renewed = cache.credentials(MEMBER, sts)

    assert renewed.access_key_id == "STS.2"
    assert [c[0] for c in sts.calls] == [role_arn(MEMBER, "rolebinder-member")] * 2
    assert sts.calls[0][1:] == ("rolebinder.x", 3600)


def test_each_account_has_its_own_credentials_and_errors_are_not_cached() -> None:
    clock = [0.0]
    cache = CredentialCache("r", "s", 900.0, lambda: clock[0])
    broken = Sts(clock, fail="NoPermission")
    with pytest.raises(CloudError):
        cache.credentials(MEMBER, broken)
    with pytest.raises(CloudError):
        cache.credentials(MEMBER, broken)
    assert len(broken.calls) == 2
    working = Sts(clock)
    assert cache.credentials(MEMBER, working).access_key_id == "STS.1"
    assert cache.credentials(OTHER, working).access_key_id == "STS.2"
    cache.forget(MEMBER)
    assert cache.credentials(MEMBER, working).access_key_id == "STS.3"


def test_concurrent_shards_of_one_account_assume_once() -> None:
    import threading  # noqa: PLC0415

    clock = [0.0]
    sts = Sts(clock)
    cache = CredentialCache("r", "s", 900.0, lambda: clock[0])
    threads = [threading.Thread(target=cache.credentials, args=(MEMBER, sts)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sts.calls) == 1


def test_a_directory_list_is_reused_for_its_ttl() -> None:
    clock = [0.0]
    reads: list[int] = []

    class Directory:
        def member_accounts(self) -> tuple[str, ...]:
            reads.append(1)
            return (MEMBER, OTHER)

    members = MemberList((), True, ttl=300.0, clock=lambda: clock[0])
    assert members.accounts(Directory) == (MEMBER, OTHER)
    clock[0] = 299.0
    members.accounts(Directory)
    clock[0] = 300.0
    members.accounts(Directory)
    assert len(reads) == 2
    assert MemberList((MEMBER,), False).accounts(Directory) == (MEMBER,)
    assert len(reads) == 2  # a listed member set never reads the directory
