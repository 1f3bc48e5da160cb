"""The languages the bot writes in: numbers, money and dates in the reader's locale (Babel), and
the subjects of the emails. The bodies are templates per language (templates/<language>/)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date
from babel import Locale
from babel.numbers import NumberPattern, parse_pattern

#: code → name; English is the templates' own language, the others override what they translate.
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}
DEFAULT_LANGUAGE = "en"

_DATES = {"en": "yyyy-MM-dd"}  # ISO for English: read the same way on both sides of the Atlantic
_MONEY = {"de": "{amount} {currency}"}  # German puts the currency after the amount


class UnknownLanguage(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown language {code!r}: use one of {', '.join(LANGUAGES)}")


def checked(code: str) -> str:
    """A language code as stored: lower case, one we write in."""
    code = code.strip().lower()
    if code not in LANGUAGES:
        raise UnknownLanguage(code)
    return code


def reader_language(own: str, company: str) -> str:
    """A supplier's own language, or the company's when they have none ("")."""
    return own if own in LANGUAGES else company


def amount(value: Decimal, language: str) -> str:
    """Money without currency, always with cents: 1,234.50 / 1.234,50."""
    return _number(value, "#,##0.00", language)


def money(value: Decimal, currency: str, language: str) -> str:
    text = _MONEY.get(language, "{currency} {amount}").format(amount=amount(value, language), currency=currency)
    return text.strip()


def price(value: Decimal, language: str) -> str:
    """Unit prices keep their precision but show at least cents: 3.9 → 3.90, 0.125 → 0.125."""
    return _number(value, "#,##0.00########", language)


def quantity(value: Decimal | int | str, language: str) -> str:
    if not isinstance(value, (Decimal, int)):
        return str(value)
    return _number(value, "#,##0.########", language)


@lru_cache(maxsize=4096)
def _number(value: Decimal | int, pattern: str, language: str) -> str:
    """Babel parses the locale and the pattern on every call; an email repeats its numbers, and
    equal values format alike under a fixed pattern (1 and 1.0 both give 1.00)."""
    return _pattern(pattern).apply(Decimal(value), _locale(language))


@lru_cache(maxsize=64)
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def day(value: date, language: str) -> str:
    return format_date(value, _DATES.get(language, "dd.MM.yyyy" if language == "de" else "medium"), locale=language)


SUBJECTS: dict[str, dict[str, str]] = {
    "en": {
        "new_order": "[{ref}] New order from {customer}",
        "draft_received": "[{ref}] Draft bill rev {number} received — {total}",
        "submitted": "[{ref}] Bill rev {number} submitted for approval",
        "approved": "[{ref}] Bill rev {number} approved — please deliver",
        "rejected": "[{ref}] Bill rev {number} rejected — please correct",
        "invoice_confirmed": "[{ref}] Invoice received — payment due {due}",
        "remittance": "[{ref}] Payment of {total} sent",
        "digest": "Your open orders with {customer}: {waiting} waiting for you",
        "reminder_unprocessed": "[{ref}] Reminder: your bill is awaited",
        "reminder_invoice": "[{ref}] Reminder: we are waiting for your invoice",
        "documents_received": "[{ref}] {count} document(s) received",
        "delivery_recorded": "[{ref}] Delivery {number} recorded",
        "receipt_confirmed": "[{ref}] Receipt confirmed by {customer}",
        "receipt_differs": " — it differs from the delivery",
        "cancelled": "[{ref}] Order cancelled by {customer}",
        "comment": "[{ref}] Message from {author}",
        "orders_list": "Your {which} with {customer}: {count}, {yours} waiting for you",
        "orders_all": "orders",
        "orders_open": "open orders",
        "not_processed": "Not processed",
        "approval_request": "[{ref}] Bill rev {number} for approval — {total}",
        "invoice_received": "[{ref}] Invoice received, due {due}",
        "total_differs": " — TOTAL DIFFERS",
        "reminder_approval": "[{ref}] Reminder: bill rev {number} waits for your approval",
        "reminder_escalation": "[{ref}] Escalation: bill rev {number} waits for approval",
        "decision_recorded": "[{ref}] Recorded: bill rev {number} {decision}",
        "decision_approved": "approved",
        "decision_rejected": "rejected",
        "delivery_to_confirm": "[{ref}] Delivery {number} on its way — please confirm receipt",
        "cancel_recorded": "[{ref}] Recorded: cancelled",
        "question": "[{ref}] Question from {author}",
        "approval_step": " (step {number} of {of}: {name})",
        "at_step": " at step {step}",
        "auto_approval": "[{ref}] Bill rev {number} approved within tolerance — {total} (REJECT to stop it)",
        "order_sent": "[{ref}] Order sent to {supplier} — {total}",
        "order_draft": "[{ref}] Your order for {supplier}: reply SEND to send it — {total}",
        "draft_reminder": "[{ref}] Reminder: your order for {supplier} is not sent yet",
        "order_template": "Order sheet for {customer}",
    },
    "de": {
        "new_order": "[{ref}] Neue Bestellung von {customer}",
        "draft_received": "[{ref}] Rechnungsentwurf Rev. {number} erhalten — {total}",
        "submitted": "[{ref}] Rechnung Rev. {number} zur Freigabe eingereicht",
        "approved": "[{ref}] Rechnung Rev. {number} freigegeben — bitte liefern",
        "rejected": "[{ref}] Rechnung Rev. {number} abgelehnt — bitte korrigieren",
        "invoice_confirmed": "[{ref}] Rechnung erhalten — Zahlung fällig am {due}",
        "remittance": "[{ref}] Zahlung über {total} veranlasst",
        "digest": "Ihre offenen Bestellungen bei {customer}: {waiting} warten auf Sie",
        "reminder_unprocessed": "[{ref}] Erinnerung: wir warten auf Ihre Rechnung",
        "reminder_invoice": "[{ref}] Erinnerung: wir warten auf Ihre Schlussrechnung",
        "documents_received": "[{ref}] {count} Dokument(e) erhalten",
        "delivery_recorded": "[{ref}] Lieferung {number} erfasst",
        "receipt_confirmed": "[{ref}] Wareneingang bestätigt von {customer}",
        "receipt_differs": " — weicht von der Lieferung ab",
        "cancelled": "[{ref}] Bestellung storniert von {customer}",
        "comment": "[{ref}] Nachricht von {author}",
        "orders_list": "Ihre {which} bei {customer}: {count}, {yours} warten auf Sie",
        "orders_all": "Bestellungen",
        "orders_open": "offenen Bestellungen",
        "not_processed": "Nicht verarbeitet",
        "approval_request": "[{ref}] Rechnung Rev. {number} zur Freigabe — {total}",
        "invoice_received": "[{ref}] Rechnung erhalten, fällig am {due}",
        "total_differs": " — SUMME WEICHT AB",
        "reminder_approval": "[{ref}] Erinnerung: Rechnung Rev. {number} wartet auf Ihre Freigabe",
        "reminder_escalation": "[{ref}] Eskalation: Rechnung Rev. {number} wartet auf Freigabe",
        "decision_recorded": "[{ref}] Erfasst: Rechnung Rev. {number} {decision}",
        "decision_approved": "freigegeben",
        "decision_rejected": "abgelehnt",
        "delivery_to_confirm": "[{ref}] Lieferung {number} unterwegs — bitte Eingang bestätigen",
        "cancel_recorded": "[{ref}] Erfasst: storniert",
        "question": "[{ref}] Frage von {author}",
        "approval_step": " (Stufe {number} von {of}: {name})",
        "at_step": " in Stufe {step}",
        "auto_approval": ("[{ref}] Rechnung Rev. {number} im Toleranzrahmen freigegeben — {total} "
                          "(ABLEHNEN hält sie auf)"),
        "order_sent": "[{ref}] Bestellung an {supplier} gesendet — {total}",
        "order_draft": "[{ref}] Ihre Bestellung für {supplier}: mit SENDEN absenden — {total}",
        "draft_reminder": "[{ref}] Erinnerung: Ihre Bestellung für {supplier} ist noch nicht gesendet",
        "order_template": "Bestellvorlage für {customer}",
    },
}


#: An order's or a revision's state as a sentence says it: "the order is …", "revision 2 was already …".
STATUSES: dict[str, dict[str, str]] = {
    "de": {"new": "neu", "awaiting_approval": "in Freigabe", "rejected": "abgelehnt", "approved": "freigegeben",
           "partly_delivered": "teilweise geliefert", "delivered": "geliefert", "received": "eingegangen",
           "invoiced": "abgerechnet", "paid": "bezahlt", "cancelled": "storniert", "draft": "ein Entwurf",
           "submitted": "eingereicht", "superseded": "ersetzt"},
}

#: Why a message was not processed (bot/errors.py's summaries), by template, where not English.
ERROR_SUMMARIES: dict[str, dict[str, str]] = {
    "de": {
        "unknown_order": "wir konnten nicht erkennen, um welche Bestellung es geht",
        "not_a_party": "der Absender ist weder der Lieferant noch ein Einkäufer dieser Bestellung",
        "only_buyers_decide": "nur die Einkäufer der Bestellung können freigeben, ablehnen oder als bezahlt markieren",
        "only_supplier_bills": "nur der Lieferant kann Rechnungen, SENDEN oder RECHNUNG schicken",
        "sheet_problems": "die Rechnungstabelle hat Fehler",
        "sheet_for_other_order": "die Tabelle gehört zu einer anderen Bestellung",
        "too_many_sheets": "es war mehr als eine Rechnungstabelle angehängt",
        "nothing_to_send": "SENDEN kam an, aber es gibt keinen Rechnungsentwurf",
        "order_closed": "die Bestellung nimmt keine Rechnungen mehr an",
        "decision_needs_request": "eine Entscheidung muss auf die Freigabeanfrage antworten",
        "stale_revision": "die beantwortete Freigabeanfrage ist nicht mehr die aktuelle",
        "already_decided": "über diese Revision wurde bereits entschieden",
        "reject_needs_reason": "ABLEHNEN braucht einen Grund",
        "conditional_approval": "eine Freigabe kann keine Bedingung tragen",
        "empty_reply": "die Antwort hatte keinen neuen Text und keine Tabelle",
        "unreadable_message": "die Nachricht konnte nicht gelesen werden",
        "attachments_not_accepted": "einige Anhänge können wir nicht annehmen",
        "invoice_before_approval": "eine Rechnung kann erst nach der Freigabe kommen",
        "invoice_needs_document": "RECHNUNG braucht die Rechnung im Anhang",
        "already_invoiced": "die Bestellung ist bereits abgerechnet",
        "message_too_large": "die Nachricht ist zu groß",
        "payment_not_due": "nur eine abgerechnete Bestellung kann als bezahlt markiert werden",
        "documents_unreadable": "ein angehängtes Dokument konnte nicht gelesen werden",
        "bill_lines_unreadable": "keine Position der Rechnung war lesbar",
        "not_a_supplier": "BESTELLUNGEN schickt die Liste nur an die eigenen Adressen eines Lieferanten",
        "cancel_needs_reason": "STORNIEREN braucht einen Grund",
        "cancel_too_late": "eine abgerechnete Bestellung kann nicht mehr storniert werden",
        "cancel_needs_reply": "das muss auf eine E-Mail zur Bestellung antworten",
        "delivery_not_expected": "GELIEFERT kommt nach der Freigabe der Rechnung",
        "nothing_delivered": "es wurde noch nichts geliefert",
        "claim_needs_text": "eine Reklamation muss sagen, was fehlt oder beschädigt ist",
        "quantities_unclear": "die Mengen konnten nicht gelesen werden",
        "not_a_buyer": "nur die Einkäufer des Unternehmens können per E-Mail bestellen",
        "unknown_supplier": "wir kennen den Lieferanten dieser Bestellung nicht",
        "order_lines_missing": "die Bestellung hat keine Positionen",
        "order_unreadable": "Teile der Bestellung konnten nicht gelesen werden",
        "order_not_sent": "diese Bestellung wurde dem Lieferanten noch nicht gesendet",
        "not_your_step": "diese Freigabestufe gehört jemand anderem",
        "stale_step": "über diese Freigabestufe wurde bereits entschieden",
        "only_step_decisions": "wer eine spätere Freigabestufe freigibt, kann nur diese Stufe freigeben oder ablehnen",
        "order_already_sent": "diese Bestellung wurde dem Lieferanten bereits gesendet",
    },
}


def status(value: str, language: str) -> str:
    return STATUSES.get(language, {}).get(value, value.replace("_", " "))


def error_summary(template: str, summary: str, language: str) -> str:
    """An error's summary in `language`, or as bot/errors.py says it."""
    return ERROR_SUMMARIES.get(language, {}).get(template, summary)


def subject(language: str, key: str, **values: object) -> str:
    table = SUBJECTS.get(language, SUBJECTS[DEFAULT_LANGUAGE])
    return table.get(key, SUBJECTS[DEFAULT_LANGUAGE][key]).format(**values)
