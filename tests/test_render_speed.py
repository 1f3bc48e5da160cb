"""What keeps an email cheap to render (issue #17): a bill's lines cost no macro call, whatever
their number, and their values are written once per email. And what that must not change: every
field of a changed line still reads "old → new", in the text and in the HTML, in each language.

Byte for byte against an earlier version: `python -m bench.render --save DIR` before a change,
`--check DIR` after it (every gallery email, EN and DE, and the bills only bench.render has)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from jinja2.runtime import Macro

from bot.notify import BillOrigin, action_buttons, bill_view
from bot.render import Renderer
from parsers.records import Line
from parsers.reply import DEFAULT_KEYWORDS, CommandKind
from storage.queries import LineNote
from tests import emailgallery as g

ORDERED = tuple(Line(f"SKU-{n:03d}", f"Part number {n}", Decimal(10 + n), "pcs", Decimal("1.25") + n, Decimal(19))
                for n in range(20))
PRICED = tuple(dataclasses.replace(line, unit_price=line.unit_price + Decimal("0.10")) for line in ORDERED)


def answers(language: str, lines: int) -> list[tuple[str, dict]]:
    """The emails a sheet reply of `lines` changed lines sends, as bench.render times them."""
    view = bill_view(1, "EUR", PRICED[:lines], ORDERED[:lines], previous=ORDERED[:lines])
    send = action_buttons((CommandKind.SEND,), g.REPLY_TO, "[PO-2026-0042] Bill rev 1", language, DEFAULT_KEYWORDS)
    base = {"order": g.ORDER, "customer": "ACME GmbH", "marker": g.REPLY_MARKER, "waiting": None}
    to_supplier = {**base, "supplier": g.SUPPLIER, "waiting": g.WAITING, "bill": view}
    return [("draft_received", {**to_supplier, "actions": send}),
            ("submitted", to_supplier),
            ("approval_request", {**base, "bill": view, "supplier": g.SUPPLIER, "superseded": None, "scans": [],
                                  "notes": [], "step": None, "rejected_before": None, "actions": send}),
            ("approved", {**to_supplier, "note": "", "by": "anna@example.test", "sheet_name": "b.xlsx"}),
            ("rejected", {**to_supplier, "reason": "too dear", "by": "anna@example.test", "sheet_name": "b.xlsx"})]


@pytest.mark.parametrize("language", ("en", "de"))
def test_a_bills_lines_cost_no_macro_call(language: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A macro call costs ~10 µs: one per cell made a 20-line bill's HTML cost 3 ms."""
    calls: list[str] = []
    called = Macro.__call__

    def counted(self: Macro, *args: object, **kwargs: object) -> object:
        calls.append(self.name)
        return called(self, *args, **kwargs)

    monkeypatch.setattr(Macro, "__call__", counted)
    renderer = Renderer()
    for (name, one), (_, twenty) in zip(answers(language, 1), answers(language, 20)):
        calls.clear()
        renderer.render(name, one, language)
        with_one = list(calls)
        calls.clear()
        renderer.render(name, twenty, language)
        assert calls == with_one, name


@pytest.mark.parametrize("language", ("en", "de"))
def test_a_renderer_renders_each_email_as_a_fresh_one_would(language: str) -> None:
    """The lines written once per email are that email's: nothing carries over to the next one."""
    shared = Renderer()
    mails = [*g.contexts(language), *answers(language, 20), *answers(language, 3)]
    for name, context in mails:
        assert shared.render(name, context, language) == Renderer().render(name, context, language), name


def everything_changed(language: str) -> tuple[str, str]:
    """Text and HTML of a bill whose first line changed in every field, against the order and
    against the previous revision, read from a document with a note on the line."""
    changed = dataclasses.replace(ORDERED[0], quantity=Decimal(11), unit="box", unit_price=Decimal("2.5"),
                                  tax_rate=Decimal("7.5"), description="Part <b>&</b>")
    origin = BillOrigin("offer.pdf", True, (), (LineNote("offer.pdf, line 4", "rounded", False),))
    view = bill_view(2, "EUR", (changed,), ORDERED[:1], previous=ORDERED[:1], origin=origin)
    context = {"order": g.ORDER, "customer": "ACME GmbH", "marker": g.REPLY_MARKER, "waiting": None,
               "supplier": g.SUPPLIER, "bill": view}
    mail = Renderer().render("draft_received", context, language)
    return mail.text, mail.html or ""


def test_every_changed_field_reads_old_to_new_in_english() -> None:
    text, html = everything_changed("en")
    assert ("  - SKU-000 Part <b>&</b>: 11 box × 2.50 = 27.50 + 7.5% tax  [CHANGED: quantity 10 → 11, "
            "unit price 1.25 → 2.5, tax rate 19 → 7.5, unit pcs → box, description Part number 0 → Part <b>&</b>]\n"
            "      read from offer.pdf, line 4\n      note: rounded\n") in text
    assert ('<div><s style="color:#6e7781">10</s> → <b>11</b> <s style="color:#6e7781">pcs</s> → <b>box</b> × '
            '<s style="color:#6e7781">1.25</s> → <b>2.50</b> = <b>27.50</b> <span style="color:#57606a">+ '
            '<s style="color:#6e7781">19 %</s> → <b>7.5 %</b> Tax</span></div>') in html
    assert ('<div style="font-size:13px">description: <s style="color:#6e7781">Part number 0</s> → '
            '<b>Part &lt;b&gt;&amp;&lt;/b&gt;</b></div>') in html
    assert ('<b>SKU-000</b> <s>Part number 0</s> → Part &lt;b&gt;&amp;&lt;/b&gt;</div><div style="color:#57606a;'
            'font-size:12px">read from offer.pdf, line 4</div><div style="font-size:12px">note: rounded</div></td>'
            in html)
    assert ('<td align="right" style="white-space:nowrap;border-bottom:1px solid #d0d7de"><s style="color:#6e7781">'
            '10</s> → <b>11</b> <s style="color:#6e7781">pcs</s> → <b>box</b></td>') in html
    assert ("<li>changed: SKU-000 (quantity 10 → 11, unit price 1.25 → 2.50, tax 19 % → 7.5 %, unit pcs → box, "
            "description Part number 0 → Part &lt;b&gt;&amp;&lt;/b&gt;)</li>") in html


def test_every_changed_field_reads_old_to_new_in_german() -> None:
    text, html = everything_changed("de")
    assert ("  - SKU-000 Part <b>&</b>: 11 box × 2,50 = 27,50 + 7,5 % MwSt.  [GEÄNDERT: Menge 10 → 11, "
            "Einzelpreis 1,25 → 2,50, MwSt. 19 % → 7,5 %, Einheit pcs → box, Bezeichnung Part number 0 → "
            "Part <b>&</b>]\n") in text
    assert ("    - geändert: SKU-000 (Menge 10 → 11, Einzelpreis 1,25 → 2,50, MwSt. 19 % → 7,5 %, "
            "Einheit pcs → box, Bezeichnung Part number 0 → Part <b>&</b>)\n") in text
    assert ('<s style="color:#6e7781">1,25</s> → <b>2,50</b> = <b>27,50</b> <span style="color:#57606a">+ '
            '<s style="color:#6e7781">19 %</s> → <b>7,5 %</b> MwSt.</span></div>') in html
    assert ("<li>geändert: SKU-000 (Menge 10 → 11, Einzelpreis 1,25 → 2,50, MwSt. 19 % → 7,5 %, Einheit pcs → box, "
            "Bezeichnung Part number 0 → Part &lt;b&gt;&amp;&lt;/b&gt;)</li>") in html
