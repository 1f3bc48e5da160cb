"""Bills read from whatever the supplier sends: how many lines come out right, per family.

    python bench/intake.py [--per-family N] [--seed S] [--families xlsx csv ...] [--invoices PATH]
                           [--jobs J] [--show-wrong] [--by-variant]

The corpus is generated (tests/billgen.py: their own workbooks, CSV, text PDFs, scans, photos,
each with its ground truth). Every file of a bill goes through `read_bill_document`; the
readings that carry lines go to `build_bill` with the order. Per family it prints:
  bills              bills generated
  lines right        truth lines read right / truth lines: matched to the right order line (or
                     recognised as added), exact quantity, exact unit price per one unit
  totals right       the draft's lines give the document's own net and gross (2 decimals, per line)
  doc totals read    the document's own net and gross read as printed
  drafts made        bills with at least one line read
  reconciled         drafts the engine says fully reconcile
  s/page med, max    seconds per page read (sheets and CSV count as one page)
  wrong & unmarked   draft lines that are wrong and carry no remark and no uncertain mark (must be 0)
  missed, unmarked   truth lines absent from a draft that says it reconciles with no remark
  not-bill as bill   documents that are not bills (terms) read with lines
Then, when ../shared/corpora/invoices exists, number / date / total read from each real invoice.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.billgen import FAMILIES, GeneratedBill, TruthLine, make_bill  # noqa: E402

CENT = Decimal("0.01")
TARGET = {"xlsx": 98, "ods": 98, "csv": 98, "pdf": 98, "scan": 90, "photo": 80}  # lines right, % (issue 11)


@dataclass
class BillScore:
    family: str
    seed: int
    variant: str
    lines: int = 0
    right: int = 0
    wrong_unmarked: int = 0
    missed_unmarked: int = 0
    totals_right: bool = False
    doc_totals_read: bool | None = None  # None: the document prints no totals
    draft: bool = False
    reconciled: bool = False
    not_bill_as_bill: int = 0
    page_seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what went wrong, for --show-wrong
    error: str = ""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _read_all(bill: GeneratedBill, score: BillScore) -> list:
    """Every file through the reader; the header of one photo is carried to the next."""
    from parsers.intake import read_bill_document

    takes_carried = "carried" in inspect.signature(read_bill_document).parameters
    readings, carried = [], None
    bill_files = set(getattr(bill, "bill_files", ()) or (name for name, _ in bill.files))
    for name, data in bill.files:
        started = time.perf_counter()
        try:
            if takes_carried and carried is not None:
                reading = read_bill_document(data, name, carried=carried)
            else:
                reading = read_bill_document(data, name)
        except Exception as exc:  # DocumentUnreadable, or a crash: both mean no lines from this file
            score.page_seconds.append(time.perf_counter() - started)
            score.problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - started
        pages = max(1, getattr(reading, "pages", 0) or 0)
        score.page_seconds.extend([elapsed / pages] * pages)
        has_lines = bool(reading.lines)
        if name not in bill_files:  # terms and conditions: lines from it go into the draft, as in the bot
            if has_lines:
                score.not_bill_as_bill += 1
                score.problems.append(f"{name}: not a bill, but {len(reading.lines)} lines were read from it")
                readings.append(reading)
            continue
        if has_lines:
            readings.append(reading)
            carried = getattr(reading, "header", None) or carried
        else:
            score.problems.append(f"{name}: no lines read")
    return readings


def score_bill(family: str, seed: int) -> BillScore:
    bill = make_bill(family, seed)
    score = BillScore(family, seed, bill.variant, lines=len(bill.truth))
    try:
        readings = _read_all(bill, score)
        if readings:
            from parsers.intake import build_bill

            _score_draft(bill, build_bill(readings, bill.order_lines), readings, score)
        else:
            score.problems.append("no draft")
    except Exception as exc:  # the bench reports a crash as a bill with nothing right
        score.error = f"{type(exc).__name__}: {exc}"
        score.problems.append(f"crash: {score.error}")
    return score


def _score_draft(bill: GeneratedBill, draft, readings: Sequence, score: BillScore) -> None:
    score.draft = bool(draft.lines)
    score.reconciled = bool(getattr(draft, "reconciled", False))
    order_skus = {line.sku for line in bill.order_lines}
    by_sku = {t.our_sku: t for t in bill.truth if t.our_sku}
    added = [t for t in bill.truth if t.our_sku is None]
    found: set[int] = set()  # ids of truth lines read right
    for index, line in enumerate(draft.lines):
        source = draft.sources[index] if index < len(draft.sources) else None
        marked = bool(source is not None and (source.remarks or source.uncertain))
        matched = line.sku in order_skus and (source is None or getattr(source, "matched_by", "x"))
        truth = by_sku.get(line.sku) if matched else _added_match(line, added, found)
        ok = truth is not None and id(truth) not in found and line.quantity == truth.quantity \
            and line.unit_price == truth.unit_price
        if ok:
            found.add(id(truth))
            score.right += 1
            continue
        if not marked:
            score.wrong_unmarked += 1
        where = getattr(source, "where", "?")
        expected = (f"expected {truth.quantity} x {truth.unit_price}" if truth is not None
                    else "that order line is not in the bill" if matched
                    else "read as added; the bill adds no such line")
        score.problems.append(f"{'WRONG UNMARKED ' if not marked else 'wrong (marked) '}{where}: "
                              f"{line.sku or '-'} '{line.description[:40]}' {line.quantity} x {line.unit_price} "
                              f"({expected}){' ' + '; '.join(source.remarks)[:200] if marked and source else ''}")
    silent = score.reconciled and not draft.remarks
    for truth in bill.truth:
        if id(truth) not in found:
            if silent:
                score.missed_unmarked += 1
            score.problems.append(f"{'MISSED UNMARKED' if silent else 'missed'}: {truth.our_sku or '(added)'} "
                                  f"'{truth.description[:40]}' {truth.quantity} x {truth.unit_price}")
    net = sum((_cents(line.quantity * line.unit_price) for line in draft.lines), Decimal(0))
    tax = sum((_cents(_cents(line.quantity * line.unit_price) * line.tax_rate / 100) for line in draft.lines),
              Decimal(0))
    score.totals_right = net == bill.net and net + tax == bill.gross
    stated_net = next((r.totals.net for r in reversed(readings) if r.totals.net is not None), None)
    stated_gross = next((r.totals.gross for r in reversed(readings) if r.totals.gross is not None), None)
    if "totals" in bill.variant.split():
        score.doc_totals_read = stated_net == bill.net and stated_gross == bill.gross
        if not score.doc_totals_read:
            score.problems.append(f"document totals read as net {stated_net} gross {stated_gross}, "
                                  f"printed {bill.net} / {bill.gross}")
    if not score.totals_right:
        score.problems.append(f"totals: lines give net {net} gross {net + tax}, document {bill.net} / {bill.gross}")


def _added_match(line, added: Sequence[TruthLine], found: set[int]) -> TruthLine | None:
    """The supplier's added line this draft line stands for: same quantity and price, else the first
    unread one with a description in common (so a misread added line is scored wrong, not missing)."""
    free = [t for t in added if id(t) not in found]
    for truth in free:
        if truth.quantity == line.quantity and truth.unit_price == line.unit_price:
            return truth
    words = set(line.description.casefold().split())
    return next((t for t in free if words & set(t.description.casefold().split())), None)


# --------------------------------------------------------------------------------------------

def run_corpus(families: Sequence[str], per_family: int, seed: int, jobs: int) -> list[BillScore]:
    work = [(family, seed * 1000 + index) for family in families for index in range(per_family)]
    if jobs <= 1:
        return [score_bill(f, s) for f, s in work]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(score_bill, *zip(*work)))


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f} %)" if b else "-"


def print_table(scores: Sequence[BillScore], families: Sequence[str]) -> None:
    by_family = defaultdict(list)
    for score in scores:
        by_family[score.family].append(score)
    rows = [
        ("bills", lambda s: str(len(s))),
        ("lines right", lambda s: _pct(sum(x.right for x in s), sum(x.lines for x in s))),
        ("  target", lambda s: f"≥ {TARGET[s[0].family]} %" if len({x.family for x in s}) == 1 else ""),
        ("totals right", lambda s: _pct(sum(x.totals_right for x in s), len(s))),
        ("doc totals read", lambda s: _pct(sum(bool(x.doc_totals_read) for x in s),
                                           sum(x.doc_totals_read is not None for x in s))),
        ("drafts made", lambda s: _pct(sum(x.draft for x in s), len(s))),
        ("reconciled", lambda s: _pct(sum(x.reconciled for x in s), len(s))),
        ("s/page median", lambda s: _seconds(s, statistics.median)),
        ("s/page max", lambda s: _seconds(s, max)),
        ("wrong & unmarked", lambda s: str(sum(x.wrong_unmarked for x in s))),
        ("missed, unmarked", lambda s: str(sum(x.missed_unmarked for x in s))),
        ("not-bill as bill", lambda s: str(sum(x.not_bill_as_bill for x in s))),
        ("crashes", lambda s: str(sum(bool(x.error) for x in s))),
    ]
    present = [f for f in families if by_family[f]]
    cells = [[label] + [fn(by_family[f]) for f in present] + [fn(list(scores))] for label, fn in rows]
    header = ["", *present, "all"]
    widths = [max(len(str(row[i])) for row in [header, *cells]) for i in range(len(header))]
    for row in [header, *cells]:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def _seconds(scores: Sequence[BillScore], fn) -> str:
    values = [v for s in scores for v in s.page_seconds]
    return f"{fn(values):.2f}" if values else "-"


def by_variant(scores: Sequence[BillScore]) -> None:
    """Lines right per layout choice (a bill counts under each of its variant words)."""
    right: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for score in scores:
        for word in score.variant.split():
            cell = right[(score.family, word)]
            cell[0] += score.right
            cell[1] += score.lines
            cell[2] += 1
    print("\nlines right by variant (bills):")
    for family in dict.fromkeys(score.family for score in scores):
        cells = [f"{word} {r}/{n} ({b})" for (f, word), (r, n, b) in sorted(right.items()) if f == family]
        print(f"  {family}: " + ", ".join(cells))


def show_wrong(scores: Sequence[BillScore]) -> None:
    for score in scores:
        if score.problems:
            print(f"\n{score.family} seed {score.seed} [{score.variant}]: {score.right}/{score.lines} right")
            for problem in score.problems[:30]:
                print(f"   {problem}")


# --------------------------------------------------------------------------------------------

def invoices(path: Path) -> None:
    expected_file = path / "expected.json"
    if not expected_file.exists():
        print(f"\ninvoices: {path} not found; skipped")
        return
    from parsers.invoice import read_invoice

    expected = json.loads(expected_file.read_text())
    print(f"\ninvoices in {path}: number / date / total read (✓ right, ✗ wrong: what was read)")
    right = {"number": 0, "date": 0, "total": 0}
    width = max(len(e["file"]) for e in expected)
    for entry in expected:
        data = (path / entry["file"]).read_bytes()
        started = time.perf_counter()
        try:
            facts = read_invoice(data, entry["kind"])
            got = {"number": facts.number, "date": facts.invoice_date, "total": facts.total}
            method = getattr(facts, "method", "")
        except Exception as exc:  # a crash reads nothing
            got, method = {"number": None, "date": None, "total": None}, f"crash {type(exc).__name__}"
        seconds = time.perf_counter() - started
        want = {"number": entry["number"], "date": date.fromisoformat(entry["date"]), "total": Decimal(entry["total"])}
        cells = []
        for name in ("number", "date", "total"):
            ok = _same(name, got[name], want[name])
            right[name] += ok
            cells.append(f"{'✓' if ok else '✗'} {got[name] if got[name] is not None else '-'}"
                         + ("" if ok else f" (want {want[name]})"))
        print(f"  {entry['file'].ljust(width)}  {method:5} {seconds:5.1f}s  " + "  ".join(cells))
    n = len(expected)
    print(f"  right: number {right['number']}/{n}, date {right['date']}/{n}, total {right['total']}/{n}")


def _same(name: str, got: object, want: object) -> bool:
    if got is None:
        return False
    if name == "number":
        return str(got).strip().lstrip("#").casefold() == str(want).strip().lstrip("#").casefold()
    if name == "total":
        try:
            return Decimal(str(got)) == want
        except ArithmeticError:
            return False
    return got == want


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--invoices", type=Path, default=ROOT.parent / "shared" / "corpora" / "invoices")
    parser.add_argument("--jobs", type=int, default=1, help="bills read in parallel (timings then include contention)")
    parser.add_argument("--show-wrong", action="store_true", help="print every wrong, missed or unread line")
    parser.add_argument("--by-variant", action="store_true", help="lines right per layout choice")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    scores = run_corpus(args.families, args.per_family, args.seed, args.jobs)
    print(f"intake bench: {args.per_family} bills per family, seed {args.seed}, "
          f"{time.perf_counter() - started:.0f} s\n")
    print_table(scores, args.families)
    if args.by_variant:
        by_variant(scores)
    if args.show_wrong:
        show_wrong(scores)
    invoices(args.invoices)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract: one thread per page, as in the bot
    sys.exit(main())
