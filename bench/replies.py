"""Score the reply reader on other projects' reply corpora, beside mail-parser-reply alone.

    python -m bench.replies [--corpora PATH] [--misses]

The corpora (`../shared/corpora/replies` from the repo root, data only, never
copied here) hold `<corpus>/<name>.email.txt|.email.html` and
`<name>.expected.txt`: the text the upstream project expects a reader to keep.
Per corpus it prints, for our reader and for mail-parser-reply alone:
  exact   whole new text equal to the expected one (line ends and trailing
          blanks normalised, nothing else)
  first   first non-empty line equal (that is where the command is read)
  leaks   the result holds a line the expected text does not: history,
          headers or quoted text relayed as if the sender had written it
Then a decision-safety pass over every case: an APPROVE put into the quoted
part must never be read as a command; a `REJECT <reason>` put as the reply's
first line must always be read, with its reason. Last, the reader's time per
reply (median over the corpora; target < 1 ms).

Where an upstream expectation contradicts PRODUCT.md ("only the new text
counts"), the case is a named policy difference (POLICY_DIFFERENCES) and is
left out of the first-line target, with its reason printed.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = REPO.parent / "shared" / "corpora" / "replies"
REASON = "prices differ from the quote"

#: Upstream expectations that contradict our rules, keyed "<corpus>/<case>".
POLICY_DIFFERENCES: dict[str, str] = {
    "talon/dont_parse_quotations_for_forwarded_messages":
        "talon keeps a forwarded message below the reply; for us a forwarded part is not new text",
    "talon/standard_iphone": "talon keeps signatures ('Sent from my iPhone'); we remove them",
    "talon/standard_sparrow": "talon keeps signatures ('--' block, 'Sent with Sparrow'); we remove them",
    "talon/quotation_separator_takes_2_lines": "talon keeps the sign-off 'Regards, Roman'; we remove signatures",
    "talon/reply_wraps_quotations": "talon keeps the sign-off 'Regards, Roman'; we remove signatures",
    "talon/reply_wraps_nested_quotations": "talon keeps the sign-off 'Regards, Roman'; we remove signatures",
    "crisp/email_1": "crisp keeps the sign-off '-Abhishek Kona' (github's corpus drops it from the same mail, "
                     "github_email_1_1); we remove signatures",
    "crisp/email_3": "crisp keeps the sign-off '-Abhishek Kona'; we remove signatures",
    "talon/quotation_marker_false_positive":
        "talon keeps a '>>> >>> http://… <<<' line as not quoted; for us a line starting with '>' is "
        "quoted, whatever follows (else '> APPROVE' could decide)",
}

Reader = Callable[[str, str], str]


@dataclass(frozen=True)
class Case:
    corpus: str
    name: str
    plain: str
    html: str
    expected: str

    @property
    def key(self) -> str:
        return f"{self.corpus}/{self.name}"


@dataclass
class Score:
    cases: int = 0
    exact_misses: list[str] = field(default_factory=list)
    first_misses: list[str] = field(default_factory=list)
    leak_cases: list[str] = field(default_factory=list)

    @property
    def exact(self) -> int:
        return self.cases - len(self.exact_misses)

    @property
    def first(self) -> int:
        return self.cases - len(self.first_misses)

    @property
    def leaks(self) -> int:
        return len(self.leak_cases)


def load_cases(root: Path) -> list[Case]:
    cases = []
    for expected in sorted(root.glob("*/*.expected.txt")):
        name = expected.name.removesuffix(".expected.txt")
        plain, html = (expected.with_name(f"{name}.email.{ext}") for ext in ("txt", "html"))
        cases.append(Case(expected.parent.name, name, _read(plain), _read(html), _read(expected)))
    return cases


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def normalise(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def leaked(result: str, expected: str) -> bool:
    kept = {_squash(line) for line in expected.split("\n")}
    return any(_squash(line) and _squash(line) not in kept for line in result.split("\n"))


def _squash(line: str) -> str:
    return " ".join(line.split())


def score(cases: list[Case], reader: Reader) -> Score:
    result = Score(cases=len(cases))
    for case in cases:
        got, want = normalise(reader(case.plain, case.html)), normalise(case.expected)
        for misses, wrong in ((result.exact_misses, got != want),
                              (result.first_misses, first_line(got) != first_line(want)),
                              (result.leak_cases, leaked(got, want))):
            if wrong:
                misses.append(case.key)
    return result


def ours(plain: str, html: str) -> str:
    from parsers.reply import new_text

    return new_text(plain, html)


def mail_parser_reply_alone(plain: str, html: str) -> str:
    from mailparser_reply import EmailReplyParser

    from parsers.reply import html_to_text

    languages = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
    return EmailReplyParser(languages=languages).parse_reply(plain if plain.strip() else html_to_text(html)) or ""


# --- decision safety -------------------------------------------------------------------------

def quoted_approvals(case: Case) -> Iterator[str]:
    """The case's plain text with APPROVE put into its history, one variant per place.

    Places: inside the '>' quote (after its first and its last line, at the
    quote's depth); in unquoted history, at the start of its body (the first
    line after the first blank line below the reply's end: below a header
    block or an attribution) and at the very end. The reply's end is the
    last line of the expected text found in the email; cases whose expected
    text holds the whole email have no history to put it in.
    """
    lines = _lines(case)
    taken = _expected_lines(case, lines)
    quoted = [i for i, line in enumerate(lines) if line.lstrip().startswith(">") and i not in taken]
    for index in sorted({quoted[0], quoted[-1]} if quoted else set()):
        depth = re.match(r"\s*(>[\s>]*)", lines[index]).group(1)  # type: ignore[union-attr]
        yield _insert(lines, index + 1, f"{depth.rstrip()} APPROVE")
    # An unquoted APPROVE next to a quote is what a bottom-poster types: new text, not history.
    # So below the reply's end it goes only where the history itself is unquoted.
    filled = [i for i in range(max(taken, default=-1) + 1, len(lines)) if lines[i].strip()]
    unquoted = [i for i in filled if i not in quoted]
    if not unquoted:
        return
    body = next((i for i in range(unquoted[0], len(lines)) if not lines[i].strip()), None)
    below = next((i for i in filled if body is not None and i > body), None)
    if below is not None and below in unquoted:
        yield _insert(lines, below, "APPROVE")
    if filled[-1] in unquoted:
        yield _insert(lines, len(lines), "APPROVE")


def _lines(case: Case) -> list[str]:
    return case.plain.replace("\r\n", "\n").split("\n")


def _expected_lines(case: Case, lines: list[str]) -> set[int]:
    """Indexes of the email's lines that make up the expected text, matched in order."""
    taken: set[int] = set()
    start = 0
    for wanted in (line.strip() for line in case.expected.split("\n") if line.strip()):
        index = next((i for i in range(start, len(lines)) if lines[i].strip() == wanted), None)
        if index is not None:
            taken.add(index)
            start = index + 1
    return taken


def _insert(lines: list[str], index: int, line: str) -> str:
    return "\n".join([*lines[:index], line, *lines[index:]])


def with_reject_first(case: Case) -> tuple[str, str]:
    if case.plain.strip():
        return f"REJECT {REASON}\n{case.plain}", ""
    return "", f"<div>REJECT {REASON}</div>{case.html}"


@dataclass
class Safety:
    approve_trials: int = 0
    false_decisions: int = 0
    reject_trials: int = 0
    reject_misses: int = 0
    failures: list[str] = field(default_factory=list)


def decision_safety(cases: list[Case]) -> Safety:
    from parsers.reply import CommandKind, new_text, parse_command

    safety = Safety()
    for case in cases:
        for text in quoted_approvals(case) if case.plain.strip() else ():
            safety.approve_trials += 1
            if parse_command(new_text(text)).kind is not CommandKind.NONE:
                safety.false_decisions += 1
                safety.failures.append(f"false decision: {case.key}")
        command = parse_command(new_text(*with_reject_first(case)))
        safety.reject_trials += 1
        if (command.kind, command.argument) != (CommandKind.REJECT, REASON):
            safety.reject_misses += 1
            safety.failures.append(f"REJECT not read: {case.key}")
    return safety


def reader_time_ms(cases: list[Case], rounds: int = 20) -> tuple[float, float]:
    """Median and worst per-case median time of new_text + parse_command, in ms."""
    from parsers.reply import new_text, parse_command

    per_case = []
    for case in cases:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            parse_command(new_text(case.plain, case.html))
            times.append(time.perf_counter() - start)
        per_case.append(statistics.median(times) * 1000)
    return statistics.median(per_case), max(per_case)


# --- report ----------------------------------------------------------------------------------

def _row(label: str, mine: Score, theirs: Score) -> str:
    return (f"{label:<20} {mine.cases:>5}  {mine.exact:>5} {mine.first:>5} {mine.leaks:>5}"
            f"    {theirs.exact:>5} {theirs.first:>5} {theirs.leaks:>5}")


def report(cases: list[Case], show_misses: bool) -> bool:
    print(f"{'corpus':<20} {'cases':>5}  {'exact':>5} {'first':>5} {'leaks':>5}    "
          f"{'exact':>5} {'first':>5} {'leaks':>5}")
    print(f"{'':<20} {'':>5}  {'-- supplierbot --':>17}    {'mail-parser-reply':>17}")
    corpora = sorted({case.corpus for case in cases})
    for corpus in corpora:
        subset = [case for case in cases if case.corpus == corpus]
        print(_row(corpus, score(subset, ours), score(subset, mail_parser_reply_alone)))
    mine, theirs = score(cases, ours), score(cases, mail_parser_reply_alone)
    print(_row("all", mine, theirs))
    return _targets(cases, mine, show_misses)


def _targets(cases: list[Case], mine: Score, show_misses: bool) -> bool:
    policy_misses = [key for key in mine.first_misses if key in POLICY_DIFFERENCES]
    first_misses = [key for key in mine.first_misses if key not in POLICY_DIFFERENCES]
    exact_share = mine.exact / max(mine.cases, 1)
    other_misses = [key for key in mine.exact_misses if key not in POLICY_DIFFERENCES]
    print(f"\nexact {exact_share:.1%} (target >= 90%); not exact outside policy differences: "
          f"{len(other_misses)} {other_misses or ''}")
    print(f"first line wrong outside policy differences: {len(first_misses)} (target 0)")
    print(f"leaks of history: {mine.leaks} (target 0)")
    print("\npolicy differences (upstream expectation vs PRODUCT.md):")
    for key, reason in POLICY_DIFFERENCES.items():
        mark = "first line differs" if key in policy_misses else "first line agrees"
        print(f"  {key} ({mark}): {reason}")
    safety = decision_safety(cases)
    print(f"\ndecision safety: APPROVE put into the quoted part: {safety.approve_trials} trials, "
          f"{safety.false_decisions} false decisions (target 0)")
    print(f"                 REJECT <reason> as first line: {safety.reject_trials} trials, "
          f"{safety.reject_misses} not read with its reason (target 0)")
    median, worst = reader_time_ms(cases)
    print(f"\nreader time per reply: median {median:.3f} ms, slowest case {worst:.3f} ms (target median < 1 ms)")
    if show_misses:
        _print_misses(cases, mine, safety)
    return (not first_misses and not mine.leaks and exact_share >= 0.9 and not safety.false_decisions
            and not safety.reject_misses and median < 1)


def _print_misses(cases: list[Case], mine: Score, safety: Safety) -> None:
    by_key = {case.key: case for case in cases}
    for key in mine.exact_misses:
        marks = " ".join(mark for mark, keys in (("FIRST", mine.first_misses), ("LEAK", mine.leak_cases))
                         if key in keys)
        print(f"\n=== {key} {marks}\n--- got:\n{normalise(ours(by_key[key].plain, by_key[key].html))}"
              f"\n--- expected:\n{normalise(by_key[key].expected)}")
    for failure in safety.failures:
        print(failure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA, help="folder of reply corpora")
    parser.add_argument("--misses", action="store_true", help="print every case not read exactly")
    args = parser.parse_args(argv)
    if not args.corpora.is_dir():
        print(f"skipped: no reply corpora at {args.corpora} (pass --corpora PATH)")
        return 0
    cases = load_cases(args.corpora)
    if not cases:
        print(f"skipped: no <name>.expected.txt cases under {args.corpora}")
        return 0
    met = report(cases, args.misses)
    print("\nall targets met" if met else "\nsome targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
