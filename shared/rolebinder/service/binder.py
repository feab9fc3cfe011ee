"""The apply step: turn decisions into batched Attach/Detach calls, and confirm what happened.

- Detach (for detach and replace) is grouped by the current role and names it, so a role that
  changed under us is not removed. A detached role's ownership marker is removed afterwards.
- Attach is grouped by role, up to 100 instances a call. A fresh attach is preceded by the
  ownership marker (`rolebinder:role`, 50 instances a TagResources call): an instance whose
  marker cannot be written gets no role, since rolebinder could never revoke it. A replace moves
  the marker once the new role is on.
- Whatever the answer does not confirm (a per-instance failure, a lost answer, a 5xx) is settled
  by reading the binding again: writes are never repeated blindly.
- A replace whose attach fails puts the previous role back, so an instance is never left without
  credentials because of us.
- A fresh attach that fails has its marker blanked again (`rolebinder:role=`, which names no
  role; TagResources, which rolebinder may always call), when the mapping can replace or detach,
  the only times a marker matters: left behind, it would name a role the instance does not
  have, and claim whatever binding of that role someone later makes by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rolebinder.aliyun.ecs import BIND_BATCH, TAG_BATCH, BindResult, chunks
from rolebinder.domain import reasons
from rolebinder.domain.decision import Action, Decision
from rolebinder.domain.instance import Instance
from rolebinder.domain.outcome import (
    ATTACHED,
    DETACHED,
    FAILED,
    REPLACED,
    SKIPPED,
    UNCHANGED,
    Outcome,
    failed_call,
)
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT, MARKER_KEY, same_role
from rolebinder.errors import CloudError
from rolebinder.service.markers import ChangeLog, Markers, TagPort
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    K = TypeVar("K")
else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time

RestorePolicy = tuple[bool, "str | None"]


class BindPort(TagPort, Protocol):
    """The ECS calls the apply step makes: the markers' tag calls and these."""

    def describe_roles(self, instance_ids: Sequence[str]) -> dict[str, str | None]: ...
    def attach_role(
        self, role: str, instance_ids: Sequence[str], policy: str | None = None
    ) -> dict[str, BindResult]: ...
    def detach_role(self, role: str, instance_ids: Sequence[str]) -> dict[str, BindResult]: ...


class Plan(Value):
    """One instance's decision and the outcome it has if the writes succeed."""

    instance: Instance
    decision: Decision
    outcome: Outcome

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id


class _Failure(Value):
    code: str
    message: str
    request_id: str | None
    transient: bool

    @classmethod
    def of(cls, item: BindResult | None, error: CloudError | None) -> _Failure:
        if item is not None and not item.ok:
            return cls(item.code, item.message, item.request_id, item.transient)
        if error is not None:
            return cls(error.code, error.message, error.request_id, error.transient)
        return cls("NoResult", "the answer did not mention this instance", None, True)

    def noting(self, prefix: str) -> _Failure:
        return _Failure(self.code, f"{prefix}: {self.message}", self.request_id, self.transient)


_MARKER_REFUSED = (
    "the rolebinder:role ownership marker could not be written, so nothing was attached"
)
_GONE = _Failure("InvalidInstanceId.NotFound", "the instance no longer exists", None, False)


class Binder:
    """Applies plans through an ECS port; returns one outcome per plan, in order."""

    def __init__(
        self,
        ecs: BindPort,
        changes: ChangeLog | None = None,
        restore_policy: Callable[[str], RestorePolicy] | None = None,
        unmark_refused: bool = False,
        deployment: str = DEFAULT_DEPLOYMENT,
    ) -> None:
        self.ecs = ecs
        self.markers = Markers(ecs, changes, deployment)
        # The Policy to put a replaced role back with: (may restore, policy). The previous
        # binding's own Policy cannot be read back, so only an unambiguous one is restored.
        self.restore_policy = restore_policy or (lambda role: (True, None))
        # Blank the marker of a fresh attach that failed (see the module docstring).
        self.unmark_refused = unmark_refused

    def apply(self, plans: Sequence[Plan]) -> list[Outcome]:
        done: dict[str, Outcome] = {}
        unbinding = [p for p in plans if p.decision.action in (Action.DETACH, Action.REPLACE)]
        detached = self._detach(unbinding, done)
        marked = self._mark_first([p for p in plans if p.decision.action == Action.ATTACH], done)
        binding = [
            p
            for p in plans
            if p.instance_id in marked
            or (p.instance_id in detached and p.decision.action == Action.REPLACE)
        ]
        self._attach(binding, done)
        self._follow_markers(plans, done)
        if self.unmark_refused:
            self._unmark_refused([p for p in plans if p.instance_id in marked], done)
        return [done.get(p.instance_id, p.outcome) for p in plans]

    # -- ownership markers --------------------------------------------------------------------

    def _mark_first(self, plans: list[Plan], done: dict[str, Outcome]) -> set[str]:
        """Write the marker of each fresh attach; returns the ids that may now be attached."""
        result = self.markers.mark((p.instance, p.decision.role or "") for p in plans)
        for plan in plans:
            error = result.refused.get(plan.instance_id)
            if error is not None:
                problem = _Failure.of(None, error).noting(_MARKER_REFUSED)
                done[plan.instance_id] = _failure(plan.outcome, problem, vanished=False)
            elif plan.instance_id in result.gone:
                done[plan.instance_id] = _failure(plan.outcome, _GONE, vanished=True)
        return result.marked

    def _follow_markers(self, plans: Sequence[Plan], done: dict[str, Outcome]) -> None:
        """Move the marker of replaced instances, remove it from detached ones."""
        replaced = [p for p in plans if done.get(p.instance_id, p.outcome).outcome == REPLACED]
        detached = [p for p in plans if done.get(p.instance_id, p.outcome).outcome == DETACHED]
        result = self.markers.mark((p.instance, p.decision.role or "") for p in replaced)
        failures = {**result.refused, **self.markers.unmark([p.instance for p in detached])}
        for instance_id, error in failures.items():
            note = (
                f"the rolebinder:role marker was not updated ({error.code}); until it is "
                "(`rolebinder adopt`), rolebinder reports this instance as contested"
            )
            outcome = done[instance_id]
            done[instance_id] = outcome._replace(detail=f"{outcome.detail}; {note}")

    def _unmark_refused(self, plans: list[Plan], done: dict[str, Outcome]) -> None:
        """Blank the marker of fresh attaches that failed: it names a role they do not have."""
        refused = [p for p in plans if done.get(p.instance_id, p.outcome).outcome == FAILED]
        for batch in chunks([p.instance_id for p in refused], TAG_BATCH):
            try:
                self.ecs.tag_instances({MARKER_KEY: ""}, batch)
            except CloudError as error:
                note = (
                    f"its rolebinder:role marker could not be blanked ({error.code}); remove it "
                    "by hand, or a role bound by hand later counts as rolebinder's"
                )
                for instance_id in batch:
                    outcome = done[instance_id]
                    done[instance_id] = outcome._replace(detail=f"{outcome.detail}; {note}")

    # -- detach -------------------------------------------------------------------------------

    def _detach(self, plans: list[Plan], done: dict[str, Outcome]) -> set[str]:
        """Detach previous roles; returns the ids now without their previous role."""
        detached: set[str] = set()
        for role, group in _grouped(plans, lambda p: p.decision.previous_role or ""):
            for batch in chunks([p.instance_id for p in group], BIND_BATCH):
                answers, error = self._call(self.ecs.detach_role, role, batch)
                detached |= self._settle(
                    [p for p in group if p.instance_id in batch],
                    answers,
                    error,
                    done,
                    confirmed=lambda plan, current: (
                        not same_role(current, plan.decision.previous_role)
                    ),
                )
        return detached

    # -- attach -------------------------------------------------------------------------------

    def _attach(self, plans: list[Plan], done: dict[str, Outcome]) -> None:
        rollback: list[Plan] = []
        # One call per role and Policy: rules naming the same role with different policies
        # must never share an attach.
        by_grant = _grouped(plans, lambda p: (p.decision.role or "", p.decision.policy))
        for (role, policy), group in by_grant:
            for batch in chunks([p.instance_id for p in group], BIND_BATCH):
                members = [p for p in group if p.instance_id in batch]
                answers, error = self._call(
                    lambda r, ids, pol=policy: self.ecs.attach_role(r, ids, pol), role, batch
                )
                if error is not None and error.code in reasons.CALL_LEVEL_CODES:
                    self._fail_all(members, error, done)
                else:
                    self._settle(
                        members,
                        answers,
                        error,
                        done,
                        confirmed=lambda plan, current: same_role(current, plan.decision.role),
                    )
                # Only a replace whose attach failed: one beaten by another invocation has its
                # desired role, and putting the old one back would undo the winner's write.
                rollback += [
                    p
                    for p in members
                    if p.decision.action == Action.REPLACE and done[p.instance_id].outcome == FAILED
                ]
        self._roll_back(rollback, done)

    def _roll_back(self, plans: list[Plan], done: dict[str, Outcome]) -> None:
        """Put the previous role back where a replace detached it but could not attach."""
        for role, group in _grouped(plans, lambda p: p.decision.previous_role or ""):
            # Batched like any Attach: a group gathers every failed batch of the attach step.
            for batch in chunks([p.instance_id for p in group], BIND_BATCH):
                self._restore(role, [p for p in group if p.instance_id in batch], done)

    def _restore(self, role: str, plans: list[Plan], done: dict[str, Outcome]) -> None:
        """Attach `role` again to up to 100 instances and say in each outcome if it worked."""
        ids = [p.instance_id for p in plans]
        allowed, policy = self.restore_policy(role)
        if not allowed:
            note = (
                f"previous role {role} not restored: the mapping gives it different policies, "
                "so its old Policy is unknown and restoring wider credentials is refused"
            )
            for plan in plans:
                outcome = done[plan.instance_id]
                done[plan.instance_id] = outcome._replace(detail=f"{outcome.detail}; {note}")
            return
        answers, _ = self._call(lambda r, batch: self.ecs.attach_role(r, batch, policy), role, ids)
        current = self._reread([i for i in ids if not _ok(answers.get(i))])[0]
        for plan in plans:
            restored = _ok(answers.get(plan.instance_id)) or same_role(
                current.get(plan.instance_id), role
            )
            note = (
                f"previous role {role} restored"
                if restored
                else f"previous role {role} could not be restored; the next sweep retries"
            )
            outcome = done[plan.instance_id]
            done[plan.instance_id] = outcome._replace(detail=f"{outcome.detail}; {note}")

    # -- shared -------------------------------------------------------------------------------

    def _settle(
        self,
        plans: list[Plan],
        answers: dict[str, BindResult],
        error: CloudError | None,
        done: dict[str, Outcome],
        confirmed: Callable[[Plan, str | None], bool],
    ) -> set[str]:
        """Record outcomes for one batch; returns the ids whose write is confirmed."""
        ok = {p.instance_id for p in plans if _ok(answers.get(p.instance_id))}
        unsure = [p for p in plans if p.instance_id not in ok]
        current, reread_error = self._reread([p.instance_id for p in unsure])
        refused = error is not None and not error.transient  # an answer said no to the call
        beaten: set[str] = set()
        for plan in unsure:
            if plan.instance_id in current and confirmed(plan, current[plan.instance_id]):
                # Either our answer was lost (the write happened) or the write was refused
                # because another invocation made the same change first.
                ok.add(plan.instance_id)
                if refused or plan.instance_id in answers:
                    beaten.add(plan.instance_id)
                continue
            problem = _Failure.of(answers.get(plan.instance_id), error or reread_error)
            vanished = plan.instance_id not in current and reread_error is None
            done[plan.instance_id] = _failure(plan.outcome, problem, vanished)
        for plan in plans:
            if plan.instance_id in ok:
                done[plan.instance_id] = (
                    _beaten(plan.outcome) if plan.instance_id in beaten else plan.outcome
                )
        return ok

    def _fail_all(self, plans: list[Plan], error: CloudError, done: dict[str, Outcome]) -> None:
        self._fail_all_with(plans, _Failure.of(None, error), done)

    @staticmethod
    def _fail_all_with(plans: list[Plan], problem: _Failure, done: dict[str, Outcome]) -> None:
        for plan in plans:
            done[plan.instance_id] = _failure(plan.outcome, problem, vanished=False)

    def _reread(self, ids: list[str]) -> tuple[dict[str, str | None], CloudError | None]:
        if not ids:
            return {}, None
        try:
            return self.ecs.describe_roles(ids), None
        except CloudError as error:
            return {}, error

    @staticmethod
    def _call(
        write: Callable[[str, Sequence[str]], dict[str, BindResult]], role: str, ids: list[str]
    ) -> tuple[dict[str, BindResult], CloudError | None]:
        try:
            return write(role, ids), None
        except CloudError as error:
            return {}, error


def _ok(item: BindResult | None) -> bool:
    return item is not None and item.ok


def _beaten(outcome: Outcome) -> Outcome:
    """Our write was refused, but the state it aimed for is there: someone made it first."""
    if outcome.outcome not in (ATTACHED, REPLACED):
        return outcome
    return outcome._replace(
        outcome=UNCHANGED,
        reason=reasons.ALREADY_BOUND,
        detail=f"{outcome.role} was attached by another invocation first",
    )


def _failure(base: Outcome, problem: _Failure, vanished: bool) -> Outcome:
    if vanished or problem.code == "InvalidInstanceId.NotFound":
        return base._replace(
            outcome=SKIPPED,
            reason=reasons.INSTANCE_NOT_FOUND,
            detail="the instance no longer exists",
        )
    return failed_call(base, problem)


def _grouped(plans: Iterable[Plan], key: Callable[[Plan], K]) -> list[tuple[K, list[Plan]]]:
    groups: dict[K, list[Plan]] = {}
    for plan in plans:
        groups.setdefault(key(plan), []).append(plan)
    return list(groups.items())
