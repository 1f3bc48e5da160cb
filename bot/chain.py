"""Applying the approval chain in the caller's transaction: the steps a submitted bill needs, the next
step asked after each approval, and a bill within the supplier's tolerance approved without waiting
(the supplier is told when the buyers' window to REJECT has passed: `run_auto_approvals`)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from enum import Enum

from sqlmodel import Session, col, select

from bot.app import App
from bot.approval import (PlannedStep, StepRequest, StepView, ToleranceVerdict, chain_amount, plan_chain,
                          within_tolerance)
from bot.notify import BillView, bill_view
from parsers.records import AnyAttachment, Line
from storage import queries
from storage.db import session
from storage.models import (ApprovalStep, Comment, OrderStatus, PurchaseOrder, Revision, RevisionStatus, StepStatus,
                            Supplier)

log = logging.getLogger("supplierbot.chain")
AUTO_APPROVER = "supplierbot (within tolerance)"
Files = Callable[[], tuple[AnyAttachment, ...]]


class StepOutcome(str, Enum):
    CONTINUES = "continues"  # the next step was asked: the revision still waits
    FINAL = "final"  # the last step approved, or a step rejected: decide the revision
    TAKEN = "taken"  # someone decided this step first


def start(app: App, s: Session, order: PurchaseOrder, revision: Revision, lines: Sequence[Line], view: BillView,
          files: tuple[AnyAttachment, ...], superseded: int | None, notes: Sequence[Comment]) -> None:
    """A bill was submitted: approve it within tolerance, else ask the chain's first step. Tolerance
    stands in for the buyers only: an amount that needs finance or the CFO still goes to them. After
    any REJECT on the order it stands in for nobody: the same bill again must not undo a rejection."""
    verdict = _tolerance(app, s, order, lines)
    planned = plan_chain(chain_amount(lines, app.config.approval), app.config.approval)
    within = verdict is not None and verdict.within
    rejected = _rejected_before(s, order, revision) if within else None
    if rejected is not None:
        within = False
        _event(app, s, order, revision, "tolerance", f"rev {revision.number} not approved by tolerance: rev "
               f"{rejected.number} was rejected by {rejected.decided_by}: a bill after a rejection waits for a decision")
    if within and len(planned) == 1:
        return _auto(app, s, order, revision, view, files, verdict)
    if verdict is not None and not verdict.within:
        _event(app, s, order, revision, "tolerance", f"rev {revision.number} outside tolerance: "
               + "; ".join(verdict.reasons)[:1000])
    steps = _steps(app, s, revision, planned)
    if within:
        return _buyers_step_within(app, s, order, revision, steps, files, view, verdict)
    request = StepRequest(1, len(planned), planned[0].name, None, app.config.approval.amount)
    app.notifier.approval_request(s, order, view, revision.id, files, superseded, notes, request,
                                  rejected_before=rejected.number if rejected else None)


def _rejected_before(s: Session, order: PurchaseOrder, revision: Revision) -> Revision | None:
    """The order's latest rejected revision, if any (by a buyer, in a tolerance window, or at any step)."""
    return next((r for r in reversed(queries.revisions_of(s, order.id))
                 if r.id != revision.id and r.status is RevisionStatus.REJECTED), None)


def _steps(app: App, s: Session, revision: Revision, planned: Sequence[PlannedStep]) -> list[ApprovalStep]:
    """The revision's chain, its first step asked now."""
    now = app.clock()
    steps = [ApprovalStep(revision_id=revision.id, number=step.number, name=step.name,
                          approvers=",".join(step.approvers), requested_at=now if step.number == 1 else None,
                          status=StepStatus.REQUESTED if step.number == 1 else StepStatus.WAITING)
             for step in planned]
    s.add_all(steps)
    s.flush()
    queries.forget(s, "steps", revision.id)
    return steps


def _buyers_step_within(app: App, s: Session, order: PurchaseOrder, revision: Revision, steps: list[ApprovalStep],
                        files: tuple[AnyAttachment, ...], view: BillView, verdict: ToleranceVerdict) -> None:
    """Within tolerance, but above a step's threshold: the buyers' step needs no decision, the next one does."""
    first, reasons = steps[0], "; ".join(verdict.reasons)[:2000]
    first.status, first.decided_at, first.decided_by, first.note = (StepStatus.APPROVED, app.clock(), AUTO_APPROVER,
                                                                    f"within tolerance: {reasons}")
    _event(app, s, order, revision, "step_approved", f"rev {revision.number} step 1 of {len(steps)} "
           f"({first.name}) approved by {AUTO_APPROVER}: {reasons}")
    _ask(app, s, order, revision, steps[1], len(steps), files, view)
    app.notifier.decision_recorded(s, order, revision.number, "approved", first.note, AUTO_APPROVER, None, 1,
                                   rejectable=revision.id)  # the buyers may still REJECT, until step 2 decides


def _tolerance(app: App, s: Session, order: PurchaseOrder, lines: Sequence[Line]) -> ToleranceVerdict | None:
    supplier = s.get(Supplier, order.supplier_id)
    tolerance = app.config.tolerance.for_supplier(supplier.email) if supplier else None
    return None if tolerance is None else within_tolerance(queries.order_lines(s, order.id), lines, tolerance)


def _auto(app: App, s: Session, order: PurchaseOrder, revision: Revision, view: BillView,
          files: tuple[AnyAttachment, ...], verdict: ToleranceVerdict) -> None:
    window = timedelta(hours=app.config.tolerance.window_hours)
    revision.auto_approval = "; ".join(verdict.reasons)[:4000]
    until = app.clock() + window
    _event(app, s, order, revision, "auto_approval", f"rev {revision.number} within tolerance "
           f"({revision.auto_approval[:500]}): approved without a decision, the supplier told at {until:%Y-%m-%d %H:%M} UTC")
    if not window:
        finish_auto(app, s, order, revision)
        return
    revision.auto_approve_at = until
    app.notifier.auto_approval(s, order, view, revision.id, files, verdict.reasons, until)


def finish_auto(app: App, s: Session, order: PurchaseOrder, revision: Revision) -> bool:
    """The window passed with no REJECT: approved, and the supplier told to deliver."""
    now = app.clock()
    note = f"within tolerance: {revision.auto_approval}"[:2000]
    if not queries.decide_revision(s, revision.id, RevisionStatus.APPROVED,
                                   {"decided_at": now, "decided_by": AUTO_APPROVER, "note": note}):
        return False
    s.refresh(revision)
    order.status = OrderStatus.APPROVED
    _event(app, s, order, revision, "approved", f"rev {revision.number} approved by {AUTO_APPROVER}")
    lines = queries.revision_lines(s, revision.id)
    view = bill_view(revision.number, order.currency, lines, queries.order_lines(s, order.id))
    app.notifier.approved(s, order, view, note, AUTO_APPROVER)
    app.notifier.decision_recorded(s, order, revision.number, "approved", note, AUTO_APPROVER, None)
    return True


def run_auto_approvals(app: App) -> int:
    """Bills whose window to REJECT has passed are approved (scheduled by `run`, or `jobs run approvals`),
    each in its own transaction: one that fails is logged and tried again next run, the others go on."""
    with session(app.engine) as s:
        waiting = s.exec(select(Revision).where(Revision.status == RevisionStatus.SUBMITTED,
                                                col(Revision.auto_approve_at).is_not(None))).all()
        due = [r.id for r in waiting if r.auto_approve_at and r.auto_approve_at <= app.clock()]
    return sum(_finish_one(app, revision_id) for revision_id in due)


def _finish_one(app: App, revision_id: int) -> bool:
    with session(app.engine) as s:
        try:
            revision = s.get(Revision, revision_id)
            order = s.get(PurchaseOrder, revision.order_id) if revision else None
            if revision is None or order is None or revision.status is not RevisionStatus.SUBMITTED:
                return False
            done = finish_auto(app, s, order, revision)
            s.commit()
            return done
        except Exception:  # a system error on one bill: the others are approved all the same
            s.rollback()
            log.exception("auto-approval failed", extra={"revision_id": revision_id})
            return False


def step_view(s: Session, order_id: int, revision_id: int | None) -> StepView | None:
    """The step now asked for a revision, with who may take it (None: no chain)."""
    step = queries.current_step(s, revision_id) if revision_id is not None else None
    if step is None:
        return None
    approvers = queries.with_delegates(s, queries.step_approvers(s, order_id, step))
    steps = queries.steps_of(s, revision_id)
    first = steps[0]
    overrulable = (queries.with_delegates(s, queries.step_approvers(s, order_id, first))
                   if step.number == 2 and _by_tolerance(first) else frozenset())
    return StepView(step.number, step.name, approvers, len(steps), overrulable)


def _by_tolerance(step: ApprovalStep) -> bool:
    return step.status is StepStatus.APPROVED and step.decided_by == AUTO_APPROVER


def decide_step(app: App, s: Session, order: PurchaseOrder, revision: Revision, number: int, approve: bool,
                text: str, by: str, files: Files, view: BillView) -> StepOutcome:
    """Record one step's decision; after an approval with steps left, ask the next one."""
    steps = queries.steps_of(s, revision.id)
    step = next((st for st in steps if st.number == number), None)
    values = {"decided_at": app.clock(), "decided_by": by, "note": text[:2000]}
    status = StepStatus.APPROVED if approve else StepStatus.REJECTED
    if step is not None and not approve and _by_tolerance(step):
        return _overrule(app, s, order, revision, steps, step, values)
    if step is None or not queries.decide_step(s, step.id, status, values):
        return StepOutcome.TAKEN
    if len(steps) > 1:  # with one step, the revision's own event says it all
        _event(app, s, order, revision, f"step_{status.value}", f"rev {revision.number} step {number} of "
               f"{len(steps)} ({step.name}) {status.value} by {by}" + (f": {text}" if text else ""), actor=by)
    waiting = [st for st in steps if st.status is StepStatus.WAITING]
    if not approve or not waiting:
        for later in waiting:
            later.status = StepStatus.CLOSED
        return StepOutcome.FINAL
    _ask(app, s, order, revision, waiting[0], len(steps), files(), view)
    return StepOutcome.CONTINUES


def _overrule(app: App, s: Session, order: PurchaseOrder, revision: Revision, steps: list[ApprovalStep],
              step: ApprovalStep, values: dict[str, object]) -> StepOutcome:
    """A buyer's REJECT of the step the bot approved by tolerance: only while the next step is still
    asked (a conditional close, so a decision there first wins); the chain ends as with any REJECT."""
    following = next((st for st in steps if st.number == step.number + 1), None)
    if following is None or not queries.decide_step(s, following.id, StepStatus.CLOSED, {}):
        return StepOutcome.TAKEN
    s.refresh(following)
    step.status, step.decided_at, step.decided_by, step.note = (StepStatus.REJECTED, values["decided_at"],
                                                                values["decided_by"], values["note"])
    for later in steps:
        if later.status is StepStatus.WAITING:
            later.status = StepStatus.CLOSED
    _event(app, s, order, revision, "step_rejected", f"rev {revision.number} step {step.number} of {len(steps)} "
           f"({step.name}), approved by tolerance, rejected by {values['decided_by']}: {values['note']}",
           actor=str(values["decided_by"]))
    return StepOutcome.FINAL


def _ask(app: App, s: Session, order: PurchaseOrder, revision: Revision, step: ApprovalStep, of: int,
         files: tuple[AnyAttachment, ...], view: BillView) -> None:
    step.status, step.requested_at = StepStatus.REQUESTED, app.clock()
    rule = next((r for r in app.config.approval.steps if r.name == step.name), None)
    request = StepRequest(step.number, of, step.name, rule.above if rule else None, app.config.approval.amount)
    app.notifier.approval_request(s, order, view, revision.id, files, None, queries.notes_of(s, revision.id), request,
                                  queries.step_approvers(s, order.id, step))
    _event(app, s, order, revision, "step_requested", f"rev {revision.number} step {step.number} of {of} "
           f"({step.name}) asked: {step.approvers.replace(',', ', ')}")


def _event(app: App, s: Session, order: PurchaseOrder, revision: Revision, kind: str, detail: str,
           actor: str = "bot") -> None:
    queries.add_event(s, order.id, app.clock(), actor, kind, detail, revision_id=revision.id)
