"""The hub's sweep of a small simulated organisation (5 members x 2 regions x 150 instances),
through bench.org exactly as `python -m bench --only org` runs it: the timer fans out one FC
invocation per account, each runs the reconcile handler in a warm container. Call counts are
deterministic, so they are asserted exactly: every member shard at the single-account batching
bound (bench/bounds.py), one AssumeRole per member on the first sweep and none on the second."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench import bounds
from bench.org import compare, measure_calls, per_member, shard_bounds
from bench.orgworld import HUB, Scale

SCALE = Scale(accounts=5, regions=2, instances=150)


@pytest.fixture(scope="module")
def swept() -> dict[str, Any]:
    return measure_calls(SCALE)


def test_the_bound_is_the_single_account_sweeps(swept: dict[str, Any]) -> None:
    first, steady = shard_bounds(150)
    # 150 instances, 75 per role: 2 pages, 3 role reads (50), 2 attaches (100 per role),
    # 4 ownership markers (50 per role)
    assert first == {
        bounds.DESCRIBE: 2,
        bounds.DESCRIBE_ROLES: 3,
        bounds.ATTACH: 2,
        bounds.MARK: 4,
    }
    assert steady == {bounds.DESCRIBE: 2, bounds.DESCRIBE_ROLES: 3}


@pytest.mark.parametrize("sweep", ["first", "second"])
def test_every_member_shard_makes_exactly_the_bounds_calls(
    swept: dict[str, Any], sweep: str
) -> None:
    bound = shard_bounds(SCALE.instances)[sweep == "second"]
    result = swept[sweep]
    checked = compare(result["shards"], swept["members"], bound)
    assert checked["shards"] == SCALE.accounts * SCALE.regions
    assert checked["differ"] == {}, checked
    assert result["unbound"] == 0 and result["failed_invocations"] == 0
    # AND the hub's own (empty) account costs one DescribeInstances per region
    own = {s: dict(c) for s, c in result["shards"].items() if s[0] == HUB}
    assert list(own.values()) == [{bounds.DESCRIBE: 1}] * SCALE.regions


def test_one_assume_role_per_member_then_none_in_the_warm_container(
    swept: dict[str, Any],
) -> None:
    members = swept["members"]
    first, second = swept["first"]["accounts"], swept["second"]["accounts"]
    assert per_member(first, members, "AssumeRole") == Counter({1: SCALE.accounts})
    assert per_member(second, members, "AssumeRole") == Counter({0: SCALE.accounts})
    # AND one GetRole per role per member, cold; none while the role cache (60 s) holds
    assert per_member(first, members, bounds.GET_ROLE) == Counter({2: SCALE.accounts})
    assert per_member(second, members, bounds.GET_ROLE) == Counter({0: SCALE.accounts})


def test_the_hub_lists_once_and_fans_out_one_invocation_per_account(
    swept: dict[str, Any],
) -> None:
    first, second = swept["first"], swept["second"]
    assert first["fanned_out"] == second["fanned_out"] == SCALE.accounts + 1  # and its own
    assert dict(first["accounts"][HUB]) == {"ListAccounts": 1, "InvokeFunction": 6}
    assert dict(second["accounts"][HUB]) == {"InvokeFunction": 6}  # the list is cached
