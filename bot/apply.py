"""Carry out a workflow decision: state changes, timeline events and queued emails."""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot import errors
from bot.app import App
from bot.notify import XLSX_TYPE, BillView, Thread, bill_view
from bot.workflow import (
    Approve,
    CreateDraft,
    Decision,
    Refuse,
    Reject,
    RelayComment,
    Reply,
    Role,
    Submit,
    order_status_after,
)
from parsers.records import Attachment, ParsedMessage
from storage import queries
from storage.models import (
    Comment,
    Document,
    InboundMessage,
    InboundStatus,
    PurchaseOrder,
    Revision,
    RevisionStatus,
)

DECIDED_BEFORE = (RevisionStatus.SUBMITTED, RevisionStatus.APPROVED, RevisionStatus.REJECTED,
                  RevisionStatus.SUPERSEDED)


@dataclass(frozen=True)
class Outcome:
    status: InboundStatus
    disposition: str
    order_id: int | None = None


class Applier:
    """Applies one decision for one inbound message inside the caller's transaction."""

    def __init__(self, app: App, s: Session, row: InboundMessage, message: ParsedMessage,
                 order: PurchaseOrder) -> None:
        self.app, self.s, self.row, self.message, self.order = app, s, row, message, order
        self.now = app.clock()
        self.thread = Thread.of(message)

    def apply(self, decision: Decision, reply: Reply) -> Outcome:
        if isinstance(decision, Refuse):
            return self.refuse(decision.error)
        if isinstance(decision, CreateDraft):
            return self._draft(decision, reply)
        if isinstance(decision, Submit):
            self._submit(self.s.get(Revision, decision.revision_id), decision.supersedes_id)
            return self._applied("submitted")
        if isinstance(decision, Approve | Reject):
            return self._decide(decision)
        return self._comment(decision)

    def refuse(self, error: errors.UserError) -> Outcome:
        answered = self.app.notifier.refusal(self.s, error, self.message, self.order)
        self._event("refused", f"{error.summary} ({self.message.sender})")
        budget = "" if answered else " (not answered: budget spent)"
        return Outcome(InboundStatus.REFUSED, f"refused: {error.template}{budget}", self.order.id)

    # --- the supplier's bill -------------------------------------------------------------

    def _draft(self, decision: CreateDraft, reply: Reply) -> Outcome:
        revision = self._draft_revision(decision.replaces_id)
        queries.replace_revision_lines(self.s, revision.id, decision.lines)
        self._keep_sheet(reply.sheet_filename, revision.id)
        self._event("draft_replaced" if decision.replaces_id else "draft_created",
                    f"rev {revision.number}: {len(decision.lines)} lines from {reply.sheet_filename}",
                    revision.id)
        self.s.flush()
        if decision.submit:
            pending = next((r for r in queries.revisions_of(self.s, self.order.id)
                            if r.status is RevisionStatus.SUBMITTED), None)
            self._submit(revision, pending.id if pending else None)
            return self._applied("draft + submitted")
        self.app.notifier.draft_received(self.s, self.order, self._view(revision), self.thread)
        return self._applied("draft")

    def _draft_revision(self, replaces_id: int | None) -> Revision:
        if replaces_id is not None:
            revision = self.s.get(Revision, replaces_id)
            assert revision is not None
            revision.created_at, revision.inbound_id = self.now, self.row.id
            return revision
        numbers = [r.number for r in queries.revisions_of(self.s, self.order.id)]
        revision = Revision(order_id=self.order.id, number=max(numbers, default=0) + 1,
                            status=RevisionStatus.DRAFT, created_at=self.now, inbound_id=self.row.id)
        self.s.add(revision)
        self.s.flush()
        return revision

    def _keep_sheet(self, filename: str, revision_id: int) -> None:
        attachment = next(a for a in self.message.attachments if a.filename == filename)
        digest, _ = self.app.files.save(attachment.data, "documents", sync=False)  # the batch syncs
        self.s.add(Document(sha256=digest, filename=_safe_name(filename), content_type=XLSX_TYPE,
                            size=len(attachment.data), kind="bill_sheet", order_id=self.order.id,
                            revision_id=revision_id, inbound_id=self.row.id, created_at=self.now))

    def _submit(self, revision: Revision | None, supersedes_id: int | None) -> None:
        assert revision is not None
        revision.status, revision.submitted_at = RevisionStatus.SUBMITTED, self.now
        if supersedes_id is not None:
            older = self.s.get(Revision, supersedes_id)
            assert older is not None
            older.status = RevisionStatus.SUPERSEDED
            self._event("superseded", f"rev {older.number} replaced by rev {revision.number}", older.id)
        self.order.status = order_status_after(Submit(revision.id, supersedes_id), self.order.status)
        self._event("submitted", f"rev {revision.number} submitted for approval", revision.id)
        self.s.flush()
        view = self._view(revision)
        older_number = self.s.get(Revision, supersedes_id).number if supersedes_id else None
        self.app.notifier.approval_request(self.s, self.order, view, revision.id,
                                           self._sheet_of(revision), older_number)
        self.app.notifier.submitted(self.s, self.order, view, self.thread)

    def _sheet_of(self, revision: Revision) -> Attachment | None:
        query = select(Document).where(Document.revision_id == revision.id, Document.kind == "bill_sheet")
        document = self.s.exec(query.order_by(col(Document.id).desc())).first()
        if document is None:
            return None
        return Attachment(f"{self.order.ref}-bill-rev{revision.number}.xlsx", XLSX_TYPE,
                          self.app.files.read(document.sha256, "documents"))

    # --- the buyer's decision ------------------------------------------------------------

    def _decide(self, decision: Approve | Reject) -> Outcome:
        approve = isinstance(decision, Approve)
        text = decision.note if isinstance(decision, Approve) else decision.reason
        status = RevisionStatus.APPROVED if approve else RevisionStatus.REJECTED
        values = {"decided_at": self.now, "decided_by": self.message.sender,
                  ("note" if approve else "reason"): text}
        revision = self.s.get(Revision, decision.revision_id)
        assert revision is not None
        if not queries.decide_revision(self.s, revision.id, status, values):
            self.s.refresh(revision)  # someone decided first: answer, do not apply twice
            return self.refuse(errors.AlreadyDecided(revision.number, revision.status.value, revision.decided_by))
        self.s.refresh(revision)
        self.order.status = order_status_after(decision, self.order.status)
        self._event(status.value, f"rev {revision.number} {status.value} by {self.message.sender}"
                    + (f": {text}" if text else ""), revision.id)
        self._tell_decision(revision, approve, text)
        return self._applied(status.value)

    def _tell_decision(self, revision: Revision, approve: bool, text: str) -> None:
        view, by, notifier = self._view(revision), self.message.sender, self.app.notifier
        if approve:
            notifier.approved(self.s, self.order, view, text, by)
        else:
            lines = queries.revision_lines(self.s, revision.id)
            notifier.rejected(self.s, self.order, view, lines, text, by)
        notifier.decision_recorded(self.s, self.order, revision.number, "approved" if approve else "rejected",
                                   text, by, self.thread)

    # --- comments ------------------------------------------------------------------------

    def _comment(self, decision: RelayComment) -> Outcome:
        author = self.message.sender_name or self.message.sender
        self.s.add(Comment(order_id=self.order.id, author=self.message.sender, text=decision.text,
                           inbound_id=self.row.id, created_at=self.now))
        self._event("comment", f"from {self.message.sender}: {decision.text[:200]}")
        self.app.notifier.comment(self.s, self.order, decision.to is Role.SUPPLIER, author, decision.text,
                                  self.thread)
        return self._applied("comment relayed")

    # --- helpers -------------------------------------------------------------------------

    def _view(self, revision: Revision) -> BillView:
        lines = queries.revision_lines(self.s, revision.id)
        earlier = [r for r in queries.revisions_of(self.s, self.order.id)
                   if r.number < revision.number and r.status in DECIDED_BEFORE]
        previous = queries.revision_lines(self.s, earlier[-1].id) if earlier else None
        return bill_view(revision.number, self.order.currency, lines,
                         queries.order_lines(self.s, self.order.id), previous)

    def _event(self, kind: str, detail: str, revision_id: int | None = None) -> None:
        queries.add_event(self.s, self.order.id, self.now, self.message.sender, kind, detail,
                          revision_id=revision_id, inbound_id=self.row.id)

    def _applied(self, disposition: str) -> Outcome:
        return Outcome(InboundStatus.APPLIED, disposition, self.order.id)


def _safe_name(filename: str) -> str:
    """Metadata only (files are stored by hash): no paths, no control characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip(". ")
    return cleaned[:200] or "attachment"
