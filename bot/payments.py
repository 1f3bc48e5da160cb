"""Contract terms per supplier, and recording a payment (operator command or a buyer's PAID)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlmodel import Session, col, select

from bot.app import App
from bot.terms import Terms, parse_terms
from parsers.bill_sheet import text_cell
from storage import queries
from storage.models import Invoice, OrderStatus, Payment, PurchaseOrder, RevisionStatus, Supplier


class PaymentRefused(Exception):
    """The order cannot be marked paid (the message says why)."""


def terms_for(app: App, supplier: Supplier) -> Terms:
    """Set with `supplier set --terms` first, then [contracts.suppliers], then the default."""
    text = supplier.terms or app.config.contracts.suppliers.get(supplier.email) or app.config.contracts.default_terms
    return parse_terms(text)


def record_payment(app: App, s: Session, order: PurchaseOrder, paid_on: date, amount: Decimal | None,
                   by: str, inbound_id: int | None = None) -> Payment:
    invoice = queries.invoice_of(s, order.id)
    if order.status is not OrderStatus.INVOICED or invoice is None:
        raise PaymentRefused(f"{order.ref} is {order.status.value.replace('_', ' ')}: only an invoiced order can be paid")
    payment = Payment(order_id=order.id, amount=amount if amount is not None else invoice.total_expected,
                      paid_on=paid_on, recorded_by=by, inbound_id=inbound_id, created_at=app.clock())
    s.add(payment)
    order.status = OrderStatus.PAID
    for revision in queries.revisions_of(s, order.id):
        if revision.status is RevisionStatus.INVOICED:
            revision.status = RevisionStatus.PAID
    queries.add_event(s, order.id, app.clock(), by, "paid",
                      f"{order.currency} {payment.amount} paid on {paid_on.isoformat()}", inbound_id=inbound_id)
    app.notifier.remittance(s, order, payment, invoice)
    return payment


@dataclass(frozen=True)
class DuePayment:
    supplier: str
    ref: str
    invoice_number: str
    invoice_date: date
    currency: str
    amount: Decimal
    discount_until: date | None
    discount_amount: Decimal
    due: date
    total_differs: bool


def payments_due(s: Session, until: date | None) -> list[DuePayment]:
    """Invoiced, unpaid orders, soonest due first (by the discount deadline where one is still open)."""
    query = select(PurchaseOrder, Invoice, Supplier).join(Invoice, col(Invoice.order_id) == col(PurchaseOrder.id)).join(
        Supplier, col(Supplier.id) == col(PurchaseOrder.supplier_id)).where(
        PurchaseOrder.status == OrderStatus.INVOICED.value, Invoice.hold == "")  # a held payment waits
    rows = [DuePayment(supplier.email, order.ref, invoice.number, invoice.invoice_date, order.currency,
                       invoice.total_expected, invoice.discount_until, invoice.discount_amount, invoice.due_date,
                       invoice.mismatch)
            for order, invoice, supplier in s.exec(query).all()]
    rows = [r for r in rows if until is None or r.due <= until or (r.discount_until and r.discount_until <= until)]
    return sorted(rows, key=lambda r: (r.discount_until or r.due, r.ref))


def totals_by_currency(rows: list[DuePayment]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, Decimal("0.00")) + row.amount
    return dict(sorted(totals.items()))


def write_payments_xlsx(rows: list[DuePayment], path: Path) -> None:
    """A clean sheet for the finance team: one row per payment, totals per currency."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Payments due"
    headers = ("Supplier", "Order", "Invoice", "Invoice date", "Currency", "Amount", "Discount until",
               "Discount", "Pay with discount", "Due", "Check")
    for column, title in enumerate(headers, start=1):
        cell = sheet.cell(1, column, title)
        cell.font, cell.fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="305496")
    for index, row in enumerate(rows, start=2):
        for column, text in ((1, row.supplier), (2, row.ref), (3, row.invoice_number), (5, row.currency),
                             (11, "invoice total differs from the approved bill" if row.total_differs else "")):
            text_cell(sheet, index, column, text)
        sheet.cell(index, 4, row.invoice_date).number_format = "yyyy-mm-dd"
        sheet.cell(index, 6, float(row.amount)).number_format = "#,##0.00"
        if row.discount_until:
            sheet.cell(index, 7, row.discount_until).number_format = "yyyy-mm-dd"
            sheet.cell(index, 8, float(row.discount_amount)).number_format = "#,##0.00"
            sheet.cell(index, 9, float(row.amount - row.discount_amount)).number_format = "#,##0.00"
        sheet.cell(index, 10, row.due).number_format = "yyyy-mm-dd"
    last = len(rows) + 2
    for offset, (currency, total) in enumerate(totals_by_currency(rows).items()):
        sheet.cell(last + offset, 5, f"Total {currency}").font = Font(bold=True)
        total_cell = sheet.cell(last + offset, 6, float(total))
        total_cell.font, total_cell.number_format = Font(bold=True), "#,##0.00"
    for column, width in zip("ABCDEFGHIJK", (30, 16, 16, 12, 9, 14, 14, 11, 17, 12, 40)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:K{max(len(rows) + 1, 1)}"
    workbook.save(path)
