"""Resource Directory gateway: the member accounts a hub serves when ROLEBINDER_ACCOUNTS=rd.

ListAccounts (ResourceManager 2020-03-31) pages by number, 100 at most per page; only the
management account or a delegated administrator may call it (docs/research/multi-account.md §2).
"""

from __future__ import annotations

from rolebinder.aliyun.transport import Answer, Transport, item_get
from rolebinder.domain import ids

PAGE_SIZE = 100
# A directory holds at most a few thousand members; more pages than this is a broken answer.
MAX_PAGES = 1000
# Statuses of a member account that can be served. The docs do not say which mean "usable": the
# invited, created and promoted ones are, the Promote* ones in flight are kept too (research §2).
_USABLE = frozenset(
    {
        "CreateSuccess",
        "InviteSuccess",
        "PromoteSuccess",
        "PromoteVerifying",
        "PromoteFailed",
        "PromoteExpired",
        "PromoteCancelled",
    }
)
_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)


class DirectoryGateway:
    """Lists the directory's member accounts through one SDK transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def member_accounts(self) -> tuple[str, ...]:
        """Every usable member's id, in the directory's order; CloudError when refused."""
        found: list[str] = []
        for page in range(1, MAX_PAGES + 1):
            accounts, listed, total = self._page(page)
            found.extend(accounts)
            # An empty page ends the list even if TotalCount says more; a page of accounts that
            # are not usable does not.
            if page * PAGE_SIZE >= total or not listed:
                return tuple(dict.fromkeys(found))
        return tuple(dict.fromkeys(found))

    def _page(self, number: int) -> tuple[list[str], int, int]:
        # Imported here: only a hub with ROLEBINDER_ACCOUNTS=rd loads this SDK.
        from aliyunsdkresourcemanager.request.v20200331.ListAccountsRequest import (  # noqa: PLC0415
            ListAccountsRequest,
        )

        request = ListAccountsRequest()
        request.set_PageNumber(number)
        request.set_PageSize(PAGE_SIZE)
        answer = Answer("ListAccounts", self.transport.read(request))
        total = answer.get("TotalCount", int)
        items = answer.get("Accounts.Account", list, [])
        accounts = []
        for n, item in enumerate(items):
            where = f"Accounts.Account[{n}]"
            account = item_get(answer, item, where, "AccountId", str)
            if not _ACCOUNT.fullmatch(account):
                answer.fail(f"{where}.AccountId: not an account id")
            deleting = item_get(answer, item, where, "DeletionStatus", str, "")
            if not deleting and item_get(answer, item, where, "Status", str, "") in _USABLE:
                accounts.append(account)
        return accounts, len(items), total
