"""Resource Directory (ResourceManager 2020-03-31): one directory and its member accounts, and
`ListAccounts`, the call a hub uses to find the members.

Documented (docs/research/multi-account.md section 2): only the management account may list
(a delegated administrator may too: not modelled); an account without a directory gets 404
`EntityNotExists.ResourceDirectory`; the caller needs `resourcemanager:ListAccounts` on
`acs:resourcemanager:*:<id>:account/*`; PageNumber >= 1 (default 1), PageSize 1..100 (default
10); JoinTime/ModifyTime in UTC with milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fakecloud.auth import KeyPair
from fakecloud.errors import ApiError
from fakecloud.params import Params

VERSION = "2020-03-31"
MEMBER_STATUSES = (
    "CreateSuccess",
    "InviteSuccess",
    "PromoteVerifying",
    "PromoteFailed",
    "PromoteExpired",
    "PromoteCancelled",
    "PromoteSuccess",
)
_NOT_AUTHORIZED = "You are not authorized to do this action. You should be authorized by RAM."


@dataclass(frozen=True)
class Member:
    account_id: str
    display_name: str
    status: str
    joined: float

    @property
    def join_method(self) -> str:
        # Choice: an invited account shows InviteSuccess, every other status is a created one.
        return "invited" if self.status == "InviteSuccess" else "created"

    @property
    def account_type(self) -> str:
        # Choice: invited accounts are standalone CloudAccounts, created ones ResourceAccounts.
        return "CloudAccount" if self.join_method == "invited" else "ResourceAccount"


@dataclass
class ResourceDirectory:
    directory_id: str
    root_folder_id: str
    management_account: str
    members: list[Member] = field(default_factory=list)

    def to_api(self, member: Member) -> dict[str, Any]:
        stamp = _iso_millis(member.joined)
        return {
            "AccountId": member.account_id,
            "DisplayName": member.display_name,
            "Type": member.account_type,
            "Status": member.status,
            "JoinMethod": member.join_method,
            "JoinTime": stamp,
            "ModifyTime": stamp,
            "FolderId": self.root_folder_id,  # every member sits in the Root folder (our choice)
            "ResourceDirectoryId": self.directory_id,
            "ResourceDirectoryPath": "/".join(
                (self.directory_id, self.root_folder_id, member.account_id)
            ),
        }


def directory_members(members: Iterable[str | Mapping[str, Any]]) -> list[str]:
    """The account ids of `members` as `build_directory` takes them."""
    return [m if isinstance(m, str) else str(m["account_id"]) for m in members]


def build_directory(
    alnum: Callable[[int], str],
    now: float,
    management_account: str,
    members: Iterable[str | Mapping[str, Any]],
) -> ResourceDirectory:
    """A directory with `members`: account ids, or `{account_id, display_name?, status?}`."""
    directory = ResourceDirectory(f"rd-{alnum(6)}", f"r-{alnum(6)}", management_account)
    for spec in members:
        entry: Mapping[str, Any] = {"account_id": spec} if isinstance(spec, str) else spec
        account_id = str(entry["account_id"])
        name = str(entry.get("display_name", account_id))  # our choice: the id when unnamed
        status = str(entry.get("status", "CreateSuccess"))
        if status not in MEMBER_STATUSES:
            raise ValueError(f"member {account_id}: unknown status {status!r}")
        directory.members.append(Member(account_id, name, status, now))
    return directory


@dataclass
class RdCall:
    caller: KeyPair
    params: Params
    directory: ResourceDirectory | None


def list_accounts(call: RdCall) -> dict[str, Any]:
    """One page of the directory's accounts, in the order they joined."""
    caller, p = call.caller, call.params
    resource = f"acs:resourcemanager:*:{caller.account_id}:account/*"
    # Choice: RAM authorisation comes before the directory checks; ResourceManager's code for
    # a refusal is not in the stored docs, so RAM's NoPermission is used.
    if not caller.permissions.allows("resourcemanager:ListAccounts", resource):
        raise ApiError("NoPermission", _NOT_AUTHORIZED, 403)
    directory = _directory_of(call.directory, caller.account_id)
    page = p.integer("PageNumber", 1, 1, 2**31 - 1)
    size = p.integer("PageSize", 10, 1, 100)
    chosen = directory.members[(page - 1) * size : page * size]
    return {
        "TotalCount": len(directory.members),
        "PageNumber": page,
        "PageSize": size,
        "Accounts": {"Account": [directory.to_api(m) for m in chosen]},
    }


def _directory_of(directory: ResourceDirectory | None, account_id: str) -> ResourceDirectory:
    if directory is not None and directory.management_account == account_id:
        return directory
    if directory is not None and any(m.account_id == account_id for m in directory.members):
        # Choice: the docs only say that the management account may call; a member that is not
        # a delegated administrator (not modelled) is refused like a RAM denial.
        raise ApiError(
            "NoPermission",
            "You are not authorized to do this action. Only the management account of the "
            "resource directory may list its accounts.",
            403,
        )
    raise ApiError(
        "EntityNotExists.ResourceDirectory",
        "The resource directory for the account is not enabled. We recommend that you first "
        "enable the resource directory for the account.",
        404,
    )


def _iso_millis(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


ACTIONS: dict[str, Callable[[RdCall], dict[str, Any]]] = {"ListAccounts": list_accounts}
