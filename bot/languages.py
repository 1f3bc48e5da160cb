"""The languages the bot writes in: numbers, money and dates in the reader's locale (Babel), and
the subjects of the emails. The bodies are templates per language (templates/<language>/)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal

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
    return format_decimal(value, "#,##0.00", locale=language)


def money(value: Decimal, currency: str, language: str) -> str:
    text = _MONEY.get(language, "{currency} {amount}").format(amount=amount(value, language), currency=currency)
    return text.strip()


def price(value: Decimal, language: str) -> str:
    """Unit prices keep their precision but show at least cents: 3.9 → 3.90, 0.125 → 0.125."""
    return format_decimal(value, "#,##0.00########", locale=language)


def quantity(value: Decimal | int | str, language: str) -> str:
    if not isinstance(value, (Decimal, int)):
        return str(value)
    return format_decimal(value, "#,##0.########", locale=language)


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
    },
}


def subject(language: str, key: str, **values: object) -> str:
    table = SUBJECTS.get(language, SUBJECTS[DEFAULT_LANGUAGE])
    return table.get(key, SUBJECTS[DEFAULT_LANGUAGE][key]).format(**values)
