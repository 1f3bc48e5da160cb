"""Reply text: keep only what the sender just wrote, and read the command in it.

Quoted history, attribution lines, forwarded parts and signatures are removed
before anything is interpreted, so an APPROVE inside a quoted instruction can
never decide anything.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from parsers.reply_html import html_to_text
from parsers.reply_patterns import (
    RULE,
    attribution_span,
    is_quoted,
    is_separator,
    is_signature_start,
    split_shared_line,
    starts_header_block,
)

#: The bot writes this line above its own text; everything from it down is history.
REPLY_MARKER = "## Please type your reply above this line ##"
_MARKER_RE = re.compile(r"#+\s*please type your reply above this line\s*#+", re.IGNORECASE)
#: Unquoted lines a client broke out of a quote (a long link's tail) sit between two quoted lines.
_MAX_BROKEN_QUOTE_LINES = 2


class CommandKind(str, Enum):
    SEND = "send"
    APPROVE = "approve"
    REJECT = "reject"
    INVOICE = "invoice"
    PAID = "paid"
    ORDERS = "orders"  # to the bot's own address: a supplier's list of their orders
    ORDER = "order"  # to the bot's own address: a buyer's new order (in an order's thread: plain text)
    TEMPLATE = "template"  # to the bot's own address: a blank order sheet for a buyer
    CANCEL = "cancel"  # a buyer's, with a reason, before anything is delivered
    DELIVERED = "delivered"  # the supplier's: a (partial) delivery
    RECEIVED = "received"  # the company's: what arrived
    SHORT = "short"  # the company's claim: less arrived than was delivered
    DAMAGED = "damaged"  # the company's claim: it arrived damaged
    NONE = "none"  # no command: the text is a comment (or empty)


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    argument: str  # the rest of the first line after the keyword (REJECT's reason, APPROVE's note)
    text: str  # the whole new text


DEFAULT_KEYWORDS: dict[CommandKind, tuple[str, ...]] = {
    CommandKind.SEND: ("send", "submit", "senden"),
    CommandKind.APPROVE: ("approve", "approved", "genehmigt", "freigegeben", "freigeben", "genehmigen"),
    CommandKind.REJECT: ("reject", "rejected", "abgelehnt", "ablehnen"),
    CommandKind.INVOICE: ("invoice", "rechnung"),
    CommandKind.PAID: ("paid", "bezahlt"),
    CommandKind.ORDERS: ("orders", "aufträge", "auftraege", "bestellungen", "commandes"),
    CommandKind.ORDER: ("order", "bestellung", "bestellen", "commande"),
    CommandKind.TEMPLATE: ("template", "vorlage", "modèle", "modele"),
    CommandKind.CANCEL: ("cancel", "stornieren", "storno", "annuler"),
    CommandKind.DELIVERED: ("delivered", "shipped", "geliefert", "versandt", "livré", "livre", "expédié"),
    CommandKind.RECEIVED: ("received", "erhalten", "eingegangen", "reçu", "recu"),
    CommandKind.SHORT: ("short", "missing", "fehlt", "fehlmenge", "manque"),
    CommandKind.DAMAGED: ("damaged", "beschädigt", "beschaedigt", "endommagé", "endommage"),
}


def new_text(plain: str, html: str = "") -> str:
    """The text the sender just wrote, from the plain part (or the HTML one if that is all)."""
    text = plain if plain.strip() else html_to_text(html)
    lines = _split_shared_lines(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    # Quoted blocks go first: a bottom-poster's quote holds our marker too, above their text.
    lines = _drop_signature(_cut_at_history(_drop_quotes(lines)))
    return "\n".join(_trim_rules(lines)).strip()


def _split_shared_lines(lines: list[str]) -> list[str]:
    """Put an attribution that shares a line with the reply ("OK On Mon, … wrote:") on its own."""
    out: list[str] = []
    for index, line in enumerate(lines):
        shared = split_shared_line(lines, index)
        out.extend(shared if shared else (line,))
    return out


def _drop_quotes(lines: list[str]) -> list[str]:
    """Remove '>' blocks, the attribution that introduces each, and the blank lines after them.

    What the sender wrote between or below quotes (an interleaved or
    bottom-posted reply) stays; so do the blank lines above a quote.
    """
    kept: list[str] = []
    index = 0
    while index < len(lines):
        start = index
        if span := attribution_span(lines, index):
            after = _next_filled(lines, index + span)
            if after is None or not is_quoted(lines[after]):
                return kept + lines[index:]  # unquoted history follows: _cut_at_history cuts here
            start = after
        end = _quote_block_end(lines, start)
        if end == index:
            kept.append(lines[index])
            index += 1
            continue
        index = end
        while index < len(lines) and not lines[index].strip():
            index += 1
    return kept


def _quote_block_end(lines: list[str], index: int) -> int:
    """The index after the '>' lines starting at `index` (with lines broken out of them)."""
    if index >= len(lines) or not is_quoted(lines[index]):
        return index
    while index < len(lines) and (is_quoted(lines[index]) or _broken_out_of_quote(lines, index)):
        index += 1
    return index


def _broken_out_of_quote(lines: list[str], index: int) -> bool:
    """A line or two with no blank line between quoted lines: the client broke a quoted line."""
    if not lines[index].strip():
        return False
    for ahead in range(index + 1, min(index + 1 + _MAX_BROKEN_QUOTE_LINES, len(lines))):
        if is_quoted(lines[ahead]):
            return True
        if not lines[ahead].strip():
            return False
    return False


def _next_filled(lines: list[str], index: int) -> int | None:
    return next((i for i in range(index, len(lines)) if lines[i].strip()), None)


def _cut_at_history(lines: list[str]) -> list[str]:
    """Keep what comes before the first sign of unquoted history."""
    for index, line in enumerate(lines):
        if marker := _MARKER_RE.search(line):
            return [*lines[:index], line[: marker.start()]]
        if is_separator(line) or attribution_span(lines, index) or starts_header_block(lines, index):
            return lines[:index]
    return lines


def _drop_signature(lines: list[str]) -> list[str]:
    for index in range(len(lines)):
        if is_signature_start(lines, index):
            return lines[:index]
    return lines


def _trim_rules(lines: list[str]) -> list[str]:
    """Drop the blank lines and rules ("____", "-----") left at the end above cut history."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or RULE.match(lines[end - 1])):
        end -= 1
    return lines[:end]


#: A reason written on its own line under the command, as the REJECT button leaves it to fill in.
REASON_LABEL = re.compile(r"^(?:reason|grund|begründung|begruendung|motif)\s*:\s*", re.IGNORECASE)
#: German prose that starts with a word we take as a command: "Senden Sie uns …", "Rechnung folgt",
#: "Erhalten haben wir …", "Geliefert wurde …". A keyword followed by one of these (pronouns, verbs,
#: adverbs that hedge) is a sentence. Not prepositions such as am, an, anbei, vom, zu, für:
#: "Geliefert am 12.11.", "Rechnung anbei", "Rechnung für Oktober" are commands.
PROSE_AFTER_KEYWORD = frozenset({
    "sie", "wir", "ich", "du", "ihr", "uns", "mir", "ihnen", "euch", "man", "es", "er",
    "ist", "sind", "war", "waren", "wurde", "wurden", "wird", "werden", "hat", "haben", "hatte", "hatten",
    "habe", "kann", "können", "koennen", "folgt", "folgen", "kommt", "kommen", "bitte", "noch", "nicht",
    "würde", "wuerde", "würden", "wuerden", "wäre", "waere", "muss", "müssen", "muessen", "soll", "sollte",
    "darf", "dürfen", "duerfen", "schon", "erst", "leider",
    "der", "die", "das", "des", "dem", "den", "ein", "eine", "einen", "einer", "und",
})
#: A decision is stricter: one handed to someone else or made on a condition is prose too
#: ("Freigeben durch den CFO nötig", "Genehmigt nur, wenn …", "Genehmigt von Herrn Maier").
PROSE_AFTER_DECISION = PROSE_AFTER_KEYWORD | {
    "nur", "durch", "von", "vom", "für", "fuer", "wenn", "falls", "sofern", "sobald", "aber", "vorbehaltlich",
}
#: Decisions a question must never make: `Approve?`, `Freigeben? Nein.`
DECISIONS = frozenset({CommandKind.APPROVE, CommandKind.REJECT})
#: Infinitives start German sentences ("Freigeben würde ich das nicht"): as a decision they count
#: only alone on the line, in capitals, or before `:` or `-`.
DECISION_INFINITIVES = frozenset({"freigeben", "genehmigen", "ablehnen"})
_INFINITIVE_ENDS = (".", "!", ":")
_DASHES = ("-", "–", "—", ":")


def parse_command(
    text: str, keywords: dict[CommandKind, tuple[str, ...]] = DEFAULT_KEYWORDS
) -> Command:
    """A command is the first word of the first non-empty line, any case, punctuation ignored.
    A capitalised keyword that starts a German sentence (`Senden Sie …`) is not one; a REJECT
    alone on its line takes its reason from a `reason:` line under it."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    first_line = lines[0] if lines else ""
    word, _, rest = first_line.partition(" ")
    bare = _strip_punctuation(word).casefold()
    for kind, words in keywords.items():
        if bare and bare in {w.casefold() for w in words}:
            if not _is_command(kind, word, rest):
                break
            argument = rest.strip() or _reason_below(lines[1:2])
            return Command(kind, argument, text)
    return Command(CommandKind.NONE, "", text)


def _is_command(kind: CommandKind, word: str, rest: str) -> bool:
    """The keyword `word` (followed by `rest` on its line) is meant as a command, not prose."""
    if kind in DECISIONS and ("?" in word or rest.startswith("?")):
        return False
    if _strip_punctuation(word).casefold() in DECISION_INFINITIVES and kind in DECISIONS:
        return _infinitive_as_command(word, rest)
    prose = (PROSE_AFTER_APPROVAL if kind is CommandKind.APPROVE else
             PROSE_AFTER_DECISION if kind in DECISIONS else PROSE_AFTER_KEYWORD)
    return not _starts_a_sentence(word, rest, prose)


#: Words that open a condition right after APPROVE: `Approve only if the price is 0.12`,
#: `Approved, provided you deliver by Friday`, `Genehmigt, wenn der Preis stimmt`. An approval
#: cannot carry one (the bot would approve without it), so such a reply decides nothing.
CONDITION_WORDS = frozenset({
    "if", "only", "unless", "provided", "providing", "assuming", "subject", "pending", "once", "when",
    "wenn", "falls", "sofern", "nur", "sobald", "vorausgesetzt", "vorbehaltlich", "unter", "bedingt",
    "si", "seulement", "sauf", "sous",
})
_SENTENCE_ENDS = (".", "!", ";")
#: An approval followed by a condition word is an approval with a condition, whatever the comma:
#: `Genehmigt wenn der Preis stimmt` must be refused like `Genehmigt, wenn …`, never relayed to the
#: supplier as a comment that reads like an approval. (A REJECT followed by one stays prose:
#: `Abgelehnt nur wegen der Lieferzeit? Nein` rejects nothing.)
PROSE_AFTER_APPROVAL = PROSE_AFTER_DECISION - CONDITION_WORDS


def approval_condition(text: str) -> str:
    """The condition an APPROVE line carries ("only if the price is 0.12"), or "" for none. Only
    the words right after the keyword count, and not after a full stop: `Approved. If you have
    questions, call me` is an approval and a note."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    word, _, rest = (lines[0] if lines else "").partition(" ")
    if word.endswith(_SENTENCE_ENDS):
        return ""
    clause = re.split(r"[.!;](?:\s|$)", rest, maxsplit=1)[0].strip()  # not the point in "0.12"
    opening = [_strip_punctuation(w).casefold() for w in clause.split()[:2]]
    return clause if any(w in CONDITION_WORDS for w in opening) else ""


def _infinitive_as_command(word: str, rest: str) -> bool:
    """`FREIGEBEN`, `Freigeben`, `Freigeben.`, `Freigeben: danke`, `Freigeben - danke`; not `Freigeben würde …`."""
    return (not rest.strip() or word.isupper() or word.endswith(_INFINITIVE_ENDS)
            or rest.lstrip().startswith(_DASHES))


def _starts_a_sentence(word: str, rest: str, prose: frozenset[str]) -> bool:
    """`Senden Sie …` is a sentence; `SENDEN`, `Senden.` or `Abgelehnt, wir …` are commands."""
    following = _strip_punctuation(rest.split(" ", 1)[0]).casefold()
    return not word.isupper() and word[-1:].isalpha() and following in prose


def _reason_below(lines: list[str]) -> str:
    match = REASON_LABEL.match(lines[0]) if lines else None
    return lines[0][match.end():].strip() if match else ""


def _strip_punctuation(word: str) -> str:
    """`Approve.`, `approved!`, `*APPROVE*`, `„Approve"` → the bare word."""
    return "".join(ch for ch in word if not unicodedata.category(ch).startswith(("P", "S")))
