"""Jinja2 rendering of every email, text and HTML from one template: strict (a missing variable is a
bug), HTML autoescaped, in the reader's language.

Each message is one text template (templates/<name>.txt, a language's own in templates/<lang>/).
Its text part is that template as written. Its HTML part is the same template rendered with
`html_mode`: the bill and the action buttons leave markers where they go, the text is cut into
blocks (paragraphs, lists, facts, commands), and `_layout.html` lays them out in the one design
every email shares: a single column that fits a phone, lines as cards there and a table on a wide
screen, buttons that open a reply with the command written.

What makes an email cheap to render (issue #17): a bill's lines are written once per email, in
Python (BillLine: numbers in the reader's language, what changed), and the bill partials lay them
out without macros, which cost ~10 µs a call, several per cell; the words and the waiting line
are made once per language; the templates are not stat()ed per render. `python -m bench.render`
times it and checks, with --save/--check, that every email stays byte for byte what it was.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot import details, languages
from bot.bills import LineChange, line_net

PREHEADER_LENGTH = 140  # about what Gmail, Outlook and Apple Mail show beside or under the subject
#: Where _bill_lines.txt stood and where the buttons go, in html_mode: with a secret per process,
#: so text a sender wrote (a relayed comment, a file name) can never pass for one.
_SECRET = secrets.token_hex(8)
BILL_MARK = f"\x1ebill:{_SECRET}\x1e"
ACTIONS_MARK = f"\x1eactions:{_SECRET}\x1e"


@dataclass(frozen=True)
class Rendered:
    text: str
    html: str | None


@dataclass(frozen=True)
class Action:
    """A button that opens a reply to `address` with the command already written."""

    label: str
    address: str
    subject: str
    body: str
    primary: bool = True

    @property
    def href(self) -> str:
        """RFC 6068: everything but the address percent-encoded, line breaks as %0D%0A."""
        body = self.body.replace("\r\n", "\n").replace("\n", "\r\n")
        return f"mailto:{self.address}?subject={quote(self.subject, safe='')}&body={quote(body, safe='')}"


@dataclass(frozen=True)
class Block:
    """A piece of an email's HTML: kind is p, items, facts, code, bill or actions."""

    kind: str
    lines: tuple[str, ...] = ()
    items: tuple[tuple[str, ...], ...] = field(default=())
    facts: tuple[tuple[str, str], ...] = field(default=())


class Renderer:
    """Templates are loaded once per process and language, not per message."""

    def __init__(self) -> None:
        self.root = resources.files("templates")
        self._envs: dict[tuple[str, bool], Environment] = {}

    def env(self, language: str, html: bool) -> Environment:
        key = (language, html)
        if key not in self._envs:
            self._envs[key] = self._env(language, html)
        return self._envs[key]

    def _env(self, language: str, autoescape: bool) -> Environment:
        folders = [str(self.root / language)] if language != languages.DEFAULT_LANGUAGE else []
        loader = ChoiceLoader([FileSystemLoader(folder) for folder in [*folders, str(self.root)]])
        # auto_reload off: templates ship with the code and do not change under a running process; on,
        # every render stat()ed each template it loads (the message, its partials, the layout).
        env = Environment(loader=loader, undefined=StrictUndefined, autoescape=autoescape, auto_reload=False,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters["money"] = lambda value, currency="": languages.money(value, currency, language)
        env.filters["amount"] = lambda value: languages.amount(value, language)
        env.filters["net"] = line_net
        env.filters["price"] = lambda value: languages.price(value, language)
        env.filters["qty"] = lambda value: languages.quantity(value, language)
        env.filters["day"] = lambda value: languages.day(value, language)
        env.filters["status"] = lambda value: languages.status(value, language)
        env.filters["summary"] = lambda error: languages.error_summary(error.template, error.summary, language)
        # what a reader found (a sheet's problems, why a document was unreadable, where a line was
        # read), worded in English by the parsers, in the email's language
        env.filters["detail"] = lambda detail: details.in_language(detail, language)
        env.filters["source"] = lambda source: details.source_in_language(source, language)
        env.filters["described"] = lambda described: details.file_in_language(described, language)
        env.globals.update(language=language, bill_mark=BILL_MARK, actions_mark=ACTIONS_MARK)
        # The shared partials' words (_words.txt) and the "waiting for you" line, made once per
        # language: an {% import %} of them in each partial cost ~11 µs a render.
        env.globals.update(w=env.get_template("_words.txt").module,
                           waiting_for_you=env.get_template("_waiting.txt").module.waiting_for_you)
        if autoescape:
            env.globals.update(joined=joined, pieces=mailto_addresses, dedented=dedented, command_rows=command_rows)
        return env

    def render(self, name: str, context: dict[str, Any], language: str = languages.DEFAULT_LANGUAGE) -> Rendered:
        context = {"actions": (), **context, "bill_lines": BillLines(language)}
        template = self.env(language, False).get_template(f"{name}.txt")
        text = template.render({**context, "html_mode": False})
        preheader = preheader_of(text, context.get("marker"))
        marked = template.render({**context, "html_mode": True})
        blocks = blocks_of(marked, bool(context["actions"]))
        html = self.env(language, True).get_template("_layout.html").render(
            {"waiting": None, "marker": "", **context, "blocks": blocks, "preheader": preheader})
        return Rendered(text, html)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ alone cost a 20-line bill 25 µs
class BillLine:
    """A bill's line as the bill partials show it, its values written in the reader's language once:
    through a macro per cell (`value_of`, `cell`) they cost more than all the rest of an email.
    quantity, unit, unit_price, tax_rate and description read as the emails write them (a tax rate
    with its " %"); `was` holds the base's value, written alike, of each field that changed."""

    change: LineChange
    kind: str  # unchanged | changed | added | removed
    note: Any  # LineNote | None: where it was read (never for a removed line)
    doubt: bool  # the note says it does not add up
    sku: str
    description: str
    title: str  # SKU and description, either alone when the other is empty
    quantity: str
    unit: str
    unit_price: str
    tax_rate: str
    net: str  # quantity × unit price, an amount
    was: dict[str, str]  # field → the base's value, for the fields that changed, in their order


class BillLines:
    """`bill_lines(changes, bill=None)` for the templates of one email: its text and its HTML show
    the same lines, written once."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.made: dict[tuple[int, int], tuple[Any, Any, list[BillLine]]] = {}

    def __call__(self, changes: Any, bill: Any = None) -> list[BillLine]:
        key = (id(changes), id(bill))
        if key not in self.made:  # the objects are kept with their lines: their ids stay theirs
            self.made[key] = (changes, bill, bill_lines(changes, bill, self.language))
        return self.made[key][2]


def bill_lines(changes: Any, bill: Any, language: str) -> list[BillLine]:
    """A bill's changes (or its changes against the previous revision) as BillLines; the notes of
    `bill`'s origin beside its lines, when given."""
    out = []
    for index, change in enumerate(changes):
        line, kind = change.line, change.kind.value
        note = None if bill is None or kind == "removed" else bill.note(index)
        base = change.base
        out.append(BillLine(change, kind, note, bool(note and note.doubtful), str(line.sku), str(line.description),
                            " ".join(part for part in (line.sku, line.description) if part),
                            value_of("quantity", line, language), str(line.unit),
                            value_of("unit_price", line, language), value_of("tax_rate", line, language),
                            languages.amount(line_net(line), language),
                            {name: value_of(name, base, language) for name in change.fields}))
    return out


def value_of(name: str, line: Any, language: str) -> str:
    """A field of a line as the emails write it: numbers in the reader's language, a tax rate with " %"."""
    if name == "quantity":
        return languages.quantity(line.quantity, language)
    if name == "unit_price":
        return languages.price(line.unit_price, language)
    if name == "tax_rate":
        return f"{languages.quantity(line.tax_rate, language)} %"
    return str(getattr(line, name))


def preheader_of(text: str, marker: str | None, limit: int = PREHEADER_LENGTH) -> str:
    """The point of an email for an inbox's preview line: its first words after the reply marker
    (what waits for the reader and the marker come first in the mail, but are not its point),
    a lone greeting skipped."""
    body = text.split(marker, 1)[1] if marker and marker in text else text
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()]
    if paragraphs and paragraphs[0].endswith(",") and len(paragraphs[0].split()) <= 3:  # "Hello," "Dear Sam,"
        paragraphs = paragraphs[1:]
    point = " ".join(paragraphs)
    return point if len(point) <= limit else point[:limit].rsplit(" ", 1)[0] + "…"


# --- text → blocks -------------------------------------------------------------------------

_ITEM = re.compile(r"^\s+[-*] (.*)$")
_FACT = re.compile(r"^\s+([^\s:][^:]{0,28}):\s+(\S.*)$")


def blocks_of(text: str, has_actions: bool) -> list[Block]:
    """The text of an email in html_mode as blocks; the buttons at their mark, or at the end."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        blocks.extend(_chunk_blocks(chunk.split("\n")))
    if has_actions and not any(block.kind == "actions" for block in blocks):
        blocks.append(Block("actions"))
    return blocks


def _chunk_blocks(lines: list[str]) -> list[Block]:
    """One paragraph of text: runs of plain lines, list items, `Label: value` facts, indented commands."""
    blocks: list[Block] = []
    for line in lines:
        kind = _line_kind(line)
        if kind in ("bill", "actions"):
            blocks.append(Block(kind))
        elif not line.strip():
            continue
        elif kind == "more" and blocks and blocks[-1].kind == "items":
            last = blocks[-1]
            blocks[-1] = Block("items", items=(*last.items[:-1], (*last.items[-1], line.strip())))
        elif kind == "item":
            item = (_ITEM.match(line).group(1).strip(),)  # type: ignore[union-attr]
            if blocks and blocks[-1].kind == "items":
                blocks[-1] = Block("items", items=(*blocks[-1].items, item))
            else:
                blocks.append(Block("items", items=(item,)))
        elif kind == "fact":
            match = _FACT.match(line)
            fact = (match.group(1).strip(), match.group(2).strip())  # type: ignore[union-attr]
            _extend(blocks, Block("facts", facts=(fact,)))
        else:
            _extend(blocks, Block("p" if kind == "text" else "code", lines=(line.strip() if kind == "text" else line,)))
    return blocks


def _line_kind(line: str) -> str:
    if BILL_MARK in line:
        return "bill"
    if ACTIONS_MARK in line:
        return "actions"
    if _ITEM.match(line):
        return "item"
    if line.startswith("      ") and line.strip():
        return "more"  # continues the list item above it (where a line was read from, a note)
    if _FACT.match(line) and not line.rstrip().endswith("."):
        return "fact"
    if line.startswith(" ") and line.strip():
        return "code"
    return "text"


def _extend(blocks: list[Block], block: Block) -> None:
    """Consecutive lines of one kind make one block."""
    if blocks and blocks[-1].kind == block.kind:
        last = blocks[-1]
        blocks[-1] = Block(block.kind, lines=last.lines + block.lines, facts=last.facts + block.facts)
    else:
        blocks.append(block)


def joined(lines: tuple[str, ...]) -> list[str]:
    """A paragraph's hard-wrapped lines as the sentences a browser should wrap itself: a line that
    ends a sentence or introduces something keeps its break, and so does the line before one that
    introduces a list ("Still to come:")."""
    out: list[str] = []
    for line in lines:
        if out and not out[-1].endswith((".", ":", "!", "?")) and not line.endswith(":"):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


def command_rows(lines: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """Commands written as a two-column list (`RECEIVED      everything arrived`): (command, what it
    does) rows, so a phone wraps the explanation and not the command; None when not that shape."""
    rows = [re.match(r"^(\S.*?)\s{2,}(\S.*)$", line) for line in dedented(lines).split("\n")]
    if len(rows) < 2 or not all(rows):
        return None
    return [(row.group(1), row.group(2)) for row in rows if row]


def dedented(lines: tuple[str, ...]) -> str:
    """Indented command lines without their common indent, aligned as written."""
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines)


def mailto_addresses(text: str) -> list[tuple[str, bool]]:
    """Text split into (piece, is_address) so addresses can become links."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in re.finditer(r"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+", text):
        pieces += [(text[position:match.start()], False), (match.group(0), True)]
        position = match.end()
    return [*pieces, (text[position:], False)]
