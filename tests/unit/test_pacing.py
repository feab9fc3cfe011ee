"""The pacer spaces each action's calls at its rate, and adapts when only throttling says so."""

from __future__ import annotations

import threading
import time as real_time

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import RpcRequest

from rolebinder.aliyun.credentials import Credentials
from rolebinder.aliyun.pacing import EASE, FLOOR, MARGIN, MIN_RATE, RETRY_GAP, Pacer
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import CallLimits, Transport
from rolebinder.entrypoints.config import Settings, parse_rates
from rolebinder.entrypoints.wiring import ClientPool, Gateways
from rolebinder.errors import InputError


class FakeTime:
    """A clock that sleeping advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_configured_rate_spaces_calls() -> None:
    # GIVEN 10 calls a second for Attach
    time = FakeTime()
    pacer = Pacer({"AttachInstanceRamRole": 10.0}, clock=time.clock, sleep=time.sleep)

    # WHEN five calls are made at once
    for _ in range(5):
        pacer.wait("AttachInstanceRamRole", budget=60)

    # THEN they leave 0.1 s apart, plus the margin for arrival jitter; another action is not
    # held back
    assert time.now == pytest.approx(100 + 4 * (0.1 + MARGIN))
    pacer.wait("DescribeInstances", budget=60)
    assert time.now == pytest.approx(100 + 4 * (0.1 + MARGIN))


def test_waiting_never_exceeds_the_budget() -> None:
    time = FakeTime()
    pacer = Pacer({"GetRole": 1.0}, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        pacer.wait("GetRole", budget=0.5)
    assert max(time.slept) <= 0.5


def test_an_unconfigured_action_is_paced_only_after_throttling() -> None:
    # GIVEN an action called 20 times within a second
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep)
    for _ in range(20):
        pacer.wait("DescribeInstances", budget=60)
        time.now += 0.04
    assert pacer.rate("DescribeInstances") is None
    assert time.slept == []

    # WHEN the service throttles it
    pacer.throttled("DescribeInstances")

    # THEN it is paced at half the rate it was called at, and grows back with each success
    assert pacer.rate("DescribeInstances") == pytest.approx(10.0)
    pacer.succeeded("DescribeInstances")
    assert pacer.rate("DescribeInstances") == pytest.approx(11.0)
    pacer.throttled("DescribeInstances")
    assert pacer.rate("DescribeInstances") == pytest.approx(5.5)


def test_an_adapted_rate_keeps_a_floor() -> None:
    pacer = Pacer()
    for _ in range(10):
        pacer.throttled("GetRole")
    assert pacer.rate("GetRole") == MIN_RATE


def test_a_configured_rate_eases_on_refusals_and_recovers_but_never_exceeds_itself() -> None:
    # GIVEN 20 calls a second configured for role reads
    pacer = Pacer({"DescribeInstanceRamRole": 20.0})

    # WHEN calls that arrived too close together are refused
    pacer.throttled("DescribeInstanceRamRole")
    eased = pacer.rate("DescribeInstanceRamRole")
    for _ in range(100):
        pacer.throttled("DescribeInstanceRamRole")

    # THEN the pace eases a little each time, never under FLOOR of the configured rate ...
    assert eased == pytest.approx(20.0 * EASE)
    assert pacer.rate("DescribeInstanceRamRole") == pytest.approx(20.0 * FLOOR)
    # ... and successes bring it back to the configured rate, never above
    for _ in range(1000):
        pacer.succeeded("DescribeInstanceRamRole")
    assert pacer.rate("DescribeInstanceRamRole") == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("raw", "rates"),
    [
        ("", {}),
        ("AttachInstanceRamRole=10", {"AttachInstanceRamRole": 10.0}),
        (" DescribeInstances=20 , GetRole=2.5 ", {"DescribeInstances": 20.0, "GetRole": 2.5}),
    ],
)
def test_rate_limits_parse(raw: str, rates: dict[str, float]) -> None:
    assert parse_rates(raw) == rates
    assert Settings.from_env({"ROLEBINDER_RATE_LIMITS": raw}).rate_limits == rates


@pytest.mark.parametrize(
    "raw", ["Attach", "Attach=", "Attach=0", "Attach=-1", "=5", "A-b=3", "X=nan"]
)
def test_bad_rate_limits_name_the_entry(raw: str) -> None:
    with pytest.raises(InputError, match="ROLEBINDER_RATE_LIMITS"):
        parse_rates(raw)


def test_each_region_is_paced_on_its_own() -> None:
    # GIVEN one DescribeInstances a second: ECS's quotas are per account, region and action
    time = FakeTime()
    pacer = Pacer({"DescribeInstances": 1.0}, clock=time.clock, sleep=time.sleep)

    # WHEN two regions call at once, then the first again
    pacer.region("cn-hangzhou").wait("DescribeInstances", budget=60)
    pacer.region("cn-shanghai").wait("DescribeInstances", budget=60)
    assert time.now == pytest.approx(100.0)  # THEN the other region is not held back
    pacer.region("cn-hangzhou").wait("DescribeInstances", budget=60)
    assert time.now == pytest.approx(101.0 + MARGIN)  # AND a region's own calls are still spaced


def test_a_hubs_shards_in_several_regions_do_not_share_one_pace() -> None:
    # GIVEN an account's gateways, paced (a hub sweeps its regions side by side)
    settings = Settings.from_env({"ROLEBINDER_RATE_LIMITS": "DescribeInstances=1"})
    pacer = Pacer(settings.rate_limits)
    limits = CallLimits(pacer=pacer)
    gateways = Gateways(
        ClientPool(settings), Credentials("id", "secret"), Deadline(60), limits, "cn-hangzhou"
    )
    # THEN each region's ECS calls have their own pacer, kept across gateways
    hangzhou, shanghai = gateways.ecs("cn-hangzhou"), gateways.ecs("cn-shanghai")
    assert hangzhou.transport.limits.pacer is not shanghai.transport.limits.pacer
    assert hangzhou.transport.limits.pacer is gateways.ecs("cn-hangzhou").transport.limits.pacer
    # AND RAM, global, keeps the account's
    assert gateways.ram().transport.limits.pacer is pacer


ROLES = "DescribeInstanceRamRole"


def test_a_refused_calls_retry_goes_ahead_of_calls_not_yet_sent() -> None:
    # GIVEN role reads at 20 a second; one call has left, two more wait for their slots
    pacer = Pacer({ROLES: 20.0})
    left: list[tuple[str, float]] = []
    first = pacer.wait(ROLES, budget=5)
    sent = real_time.monotonic()

    def later(name: str) -> None:
        pacer.wait(ROLES, budget=5)
        left.append((name, real_time.monotonic()))

    threads = [threading.Thread(target=later, args=(name,)) for name in ("second", "third")]
    for queued, thread in enumerate(threads, start=1):
        thread.start()
        while len(pacer._lane(ROLES).waiting) < queued:  # in line, in this order
            real_time.sleep(0.001)

    # WHEN the first is refused (it arrived a few ms before its token) and retried
    pacer.throttled(ROLES, first)
    pacer.wait(ROLES, budget=5, ticket=first)
    left.append(("retry", real_time.monotonic()))
    for thread in threads:
        thread.join()

    # THEN the retry leaves first, about RETRY_GAP after the refused call rather than a whole
    # interval, and the calls behind it keep their order and their spacing from it; one
    # refusal of that kind is arrival jitter, so the pace stays
    assert [name for name, _ in left] == ["retry", "second", "third"]
    times = [at for _, at in left]
    assert RETRY_GAP - 0.002 <= times[0] - sent < 1 / 20
    assert pacer.rate(ROLES) == 20.0
    interval = 1 / 20 + MARGIN
    assert times[1] - times[0] >= interval - 0.002
    assert times[2] - times[1] >= interval - 0.002


def test_a_refused_call_whose_slot_is_gone_waits_its_turn_at_the_front() -> None:
    # GIVEN a call that left, then another after it (which took the next token)
    time = FakeTime()
    pacer = Pacer({ROLES: 20.0}, clock=time.clock, sleep=time.sleep)
    first = pacer.wait(ROLES, budget=60)
    pacer.wait(ROLES, budget=60)
    assert time.now == pytest.approx(100 + 1 / 20 + MARGIN)

    # WHEN the first is refused
    pacer.throttled(ROLES, first)
    pacer.wait(ROLES, budget=60, ticket=first)

    # THEN its retry is not squeezed in between: it takes the next slot, one interval after the
    # second (the slot the second had set before the refusal eased the rate), and the pace eases
    assert time.now == pytest.approx(100 + 2 * (1 / 20 + MARGIN))
    assert pacer.rate(ROLES) == pytest.approx(20 * EASE)


def test_a_call_refused_twice_eases_the_pace() -> None:
    # GIVEN a call refused once, retried RETRY_GAP later
    time = FakeTime()
    pacer = Pacer({ROLES: 20.0}, clock=time.clock, sleep=time.sleep)
    ticket = pacer.wait(ROLES, budget=60)
    pacer.throttled(ROLES, ticket)
    pacer.wait(ROLES, budget=60, ticket=ticket)
    assert (time.now, pacer.rate(ROLES)) == (pytest.approx(100 + RETRY_GAP), 20.0)

    # WHEN it is refused again: its token was not due within RETRY_GAP, the pace is too fast
    pacer.throttled(ROLES, ticket)

    # THEN the pace eases, and the retry still leaves soon
    assert pacer.rate(ROLES) == pytest.approx(20 * EASE)
    pacer.wait(ROLES, budget=60, ticket=ticket)
    assert time.now == pytest.approx(100 + 2 * RETRY_GAP)


def test_every_call_leaves_in_the_order_it_asked_and_none_is_left_behind() -> None:
    # GIVEN 40 calls a second from eight threads, each making five calls, a fifth refused once
    pacer = Pacer({ROLES: 40.0})
    order: list[int] = []
    lock = threading.Lock()

    def caller(index: int) -> None:
        for call in range(5):
            ticket = pacer.wait(ROLES, budget=10)
            if (index + call) % 5 == 0:
                pacer.throttled(ROLES, ticket)
                assert pacer.wait(ROLES, budget=10, ticket=ticket) == ticket
            with lock:
                order.append(ticket)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # THEN every call got through, each once, and nothing is still queued
    assert sorted(order) == list(range(40))
    assert not any(thread.is_alive() for thread in threads)
    assert pacer._lane(ROLES).waiting == []


class _ThrottledOnce:
    """An SDK client whose first call is refused for flow control."""

    def __init__(self, time: FakeTime) -> None:
        self.time, self.sent = time, []

    def do_action_with_exception(self, request: RpcRequest) -> bytes:
        self.sent.append(self.time.now)
        if len(self.sent) == 1:
            raise ServerException("Throttling", "Request was denied.", 400, "r-1")
        return b"{}"


def test_the_transport_retries_a_refused_call_in_its_own_place() -> None:
    # GIVEN a paced action whose first call is refused
    time = FakeTime()
    pacer = Pacer({ROLES: 20.0}, clock=time.clock, sleep=time.sleep)
    client = _ThrottledOnce(time)
    transport = Transport(client, Deadline(60, clock=time.clock), CallLimits(pacer=pacer))

    # WHEN a read is sent
    transport.read(RpcRequest("Ecs", "2014-05-26", ROLES))

    # THEN its retry leaves RETRY_GAP after it, its token being due within milliseconds, not a
    # whole interval later, nor after a random backoff
    assert client.sent == [pytest.approx(100.0), pytest.approx(100.0 + RETRY_GAP)]
