"""What `Renderer.render` costs for the emails a sheet reply sends, and whether a change to the
renderer or its templates leaves every email byte for byte as it was.

    python -m bench.render [--repeat 7] [--number 50] [--clock process|wall]
                                        µs per render of each common email, EN and DE (median)
    python -m bench.render --save DIR   every case's text and HTML into DIR, a file each
    python -m bench.render --check DIR  compare every case with what DIR holds, byte for byte

The timed emails are the common answers (draft_received, submitted, approval_request, approved,
rejected) for a bill of 20 lines that each changed against the order, as bench.throughput's
replies make them. The cases saved and checked are the whole test gallery (tests/emailgallery.py:
every template and error, EN and DE, its long and its short bill) and a few more bills: the
timed ones, one past 40 lines (cards only), one whose lines change in every field, one read
from a document that adds up, one whose SEND was held.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.notify import BillOrigin, action_buttons, bill_view
from bot.render import Renderer
from parsers.records import Line
from parsers.reply import DEFAULT_KEYWORDS, CommandKind
from storage.queries import LineNote
from tests import emailgallery as g

LANGUAGES = ("en", "de")
ORDERED = tuple(Line(f"SKU-{n:03d}", f"Part number {n}", Decimal(10 + n), "pcs", Decimal("1.25") + n, Decimal(19))
                for n in range(20))
PRICED = tuple(dataclasses.replace(line, unit_price=line.unit_price + Decimal("0.10")) for line in ORDERED)


def common(language: str, lines: int = 20) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of the answers to a sheet reply of `lines` changed lines."""
    ordered, priced = ORDERED[:lines], PRICED[:lines]
    view = bill_view(1, "EUR", priced, ordered)

    def buttons(*commands: CommandKind) -> tuple:
        return action_buttons(commands, g.REPLY_TO, f"[{g.ORDER.ref}] Bill rev 1", language, DEFAULT_KEYWORDS)

    base = {"order": g.ORDER, "customer": "ACME GmbH", "marker": g.REPLY_MARKER, "waiting": None}
    to_supplier = {**base, "supplier": g.SUPPLIER, "waiting": g.WAITING}
    return [
        ("draft_received", {**to_supplier, "bill": view, "actions": buttons(CommandKind.SEND)}),
        ("submitted", {**to_supplier, "bill": view}),
        ("approval_request", {**base, "bill": view, "supplier": g.SUPPLIER, "superseded": None, "scans": [],
                              "notes": [], "step": None, "rejected_before": None,
                              "actions": buttons(CommandKind.APPROVE, CommandKind.REJECT)}),
        ("approved", {**to_supplier, "bill": view, "note": "", "by": "anna.buyer@example.test",
                      "sheet_name": "PO-2026-0042-bill-rev1.xlsx", "actions": buttons(CommandKind.DELIVERED)}),
        ("rejected", {**to_supplier, "bill": view, "reason": "bolts must stay at 0.12 as quoted",
                      "by": "anna.buyer@example.test", "sheet_name": "PO-2026-0042-bill-rev1.xlsx"}),
    ]


def extra(language: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Bills the gallery does not have, for shapes the bill partials treat apart."""
    yield from common(language)
    many = tuple(Line(f"L-{n}", f"Line {n}", Decimal(n + 1), "pcs", Decimal("0.5") * n, Decimal(7)) for n in range(45))
    everything = tuple(dataclasses.replace(line, quantity=line.quantity + 1, unit="box", unit_price=line.unit_price * 2,
                                           tax_rate=Decimal("7.5"), description=f"{line.description} <b>&</b>")
                       for line in ORDERED[:3])
    notes = tuple(LineNote(f"offer.pdf, line {n}", "" if n % 2 else "rounded", False) for n in range(3))
    reconciled = BillOrigin("offer.pdf (text PDF, 1 page)", True, (), notes)
    held = BillOrigin("offer.pdf (text PDF, 1 page)", False, ("row 7 <unreadable>",), g.NOTES[:3], send_held=True)
    to_supplier = {"order": g.ORDER, "customer": "ACME & Co", "marker": g.REPLY_MARKER, "waiting": g.WAITING,
                   "supplier": g.SUPPLIER, "actions": ()}
    yield "draft_received", {**to_supplier, "bill": bill_view(1, "EUR", many, many[:40])}
    yield "draft_received", {**to_supplier, "bill": bill_view(3, "EUR", everything, ORDERED[:3], previous=ORDERED[:2],
                                                              origin=reconciled)}
    yield "draft_received", {**to_supplier, "bill": bill_view(2, "USD", everything[:1] + ORDERED[5:7], ORDERED[:3],
                                                              previous=everything[:1] + ORDERED[5:7], origin=held)}
    yield "new_order", {**to_supplier, "bill": bill_view(None, "EUR", ORDERED[:20], ORDERED[:20]), "sheet_name": "x"}


def cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file name, language and template, context) of every email compared."""
    for language in LANGUAGES:
        for short in (False, True):
            lines = (g.SHORT_ORDERED, g.SHORT_BILLED) if short else (g.ORDERED, g.BILLED)
            seen: dict[str, int] = {}
            for name, context in [*g.contexts(language, *lines), *(extra(language) if not short else ())]:
                seen[name] = seen.get(name, 0) + 1
                label = f"{language}-{'short' if short else 'long'}-{name.replace('/', '.')}-{seen[name]}"
                yield label, language, name, context


def save(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    count = 0
    for label, language, name, context in cases():
        mail = renderer.render(name, context, language)
        (folder / f"{label}.txt").write_bytes(mail.text.encode())
        (folder / f"{label}.html").write_bytes((mail.html or "").encode())
        count += 1
    return count


def check(folder: Path) -> list[str]:
    renderer = Renderer()
    differ = []
    for label, language, name, context in cases():
        mail = renderer.render(name, context, language)
        for suffix, got in ((".txt", mail.text), (".html", mail.html or "")):
            path = folder / f"{label}{suffix}"
            if not path.exists() or path.read_bytes() != got.encode():
                differ.append(f"{label}{suffix}")
    return differ


def timings(repeat: int, number: int, clock: str = "process") -> dict[str, float]:
    """Median µs per render of each common email, after a warm-up render. The process clock counts
    this process's CPU time only: on a machine shared with other work, the wall clock also counts
    the time others held the CPU."""
    timer = time.process_time if clock == "process" else time.perf_counter
    renderer = Renderer()
    out = {}
    for language in LANGUAGES:
        for name, context in common(language):
            renderer.render(name, context, language)
            runs = []
            for _ in range(repeat):
                started = timer()
                for _ in range(number):
                    renderer.render(name, context, language)
                runs.append((timer() - started) / number * 1e6)
            out[f"{name} {language}"] = statistics.median(runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--check", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=50)
    parser.add_argument("--clock", choices=("process", "wall"), default="process")
    args = parser.parse_args()
    if args.save:
        print(f"{save(args.save)} emails saved to {args.save}")
        return
    if args.check:
        differ = check(args.check)
        print(f"{len(differ)} files differ" + "".join(f"\n  {name}" for name in differ))
        sys.exit(1 if differ else 0)
    for name, micros in timings(args.repeat, args.number, args.clock).items():
        print(f"{name:24} {micros:8.0f} µs")


if __name__ == "__main__":
    main()
