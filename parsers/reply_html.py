"""HTML part of a reply → plain text, with quoted parts marked as '>' lines.

The reply reader works on text; this turns an HTML-only reply into text in
which everything the client shows as quoted (blockquotes, Gmail/Yahoo/
Thunderbird quote containers) is prefixed with '>', and Outlook's history
after its reply markers is left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser


_TEXT, _SOFT, _HARD = "text", "soft", "hard"  # a soft break ends a line only if one is open


@dataclass(frozen=True)
class _Part:
    kind: str
    text: str
    quoted: bool


#: Elements that have no content and no end tag (HTML Living Standard, "void elements").
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})


class _TextExtractor(HTMLParser):
    """HTML → text; blockquotes and known quote containers become '>' lines."""

    _BLOCK = {"p", "div", "tr", "td", "th", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
              "table", "blockquote", "hr", "pre", "center", "section", "article", "header", "footer", "address"}
    _SKIP = {"style", "script", "head", "title"}
    _QUOTE_IDS = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
    #: Outlook puts the history after these markers as siblings, not inside them.
    _HISTORY_IDS = ("divrplyfwdmsg", "appendonsend")
    _SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[_Part] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.stack: list[tuple[str, bool, bool]] = []  # tag, quoting, skipped
        self.history_started = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.history_started |= self._has_marker(attrs, self._HISTORY_IDS)
        quoting = tag == "blockquote" or self._has_marker(attrs, self._QUOTE_IDS)
        if tag not in _VOID:
            skipped = tag in self._SKIP or self._is_signature(attrs)
            self.stack.append((tag, quoting, skipped))
            self.quote_depth += quoting
            self.skip_depth += skipped
        if tag == "br":
            self.parts.append(_Part(_HARD, "", self.quote_depth > 0))
        elif tag in self._BLOCK or quoting:
            self._soft_break()  # quoted text never shares a line with new text

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<br />` is one start tag; HTML ignores the slash, and so must we (the
        # default would also call handle_endtag, which closed the enclosing quote).
        self.handle_starttag(tag, attrs)

    @staticmethod
    def _has_marker(attrs: list[tuple[str, str | None]], markers: tuple[str, ...]) -> bool:
        values = " ".join((value or "") for name, value in attrs if name in {"id", "class"}).casefold()
        return any(marker in values for marker in markers)

    def _is_signature(self, attrs: list[tuple[str, str | None]]) -> bool:
        """Gmail's and Thunderbird's signature blocks, Outlook's `<div id="Signature">`."""
        ids = {(value or "").casefold() for name, value in attrs if name == "id"}
        return "signature" in ids or self._has_marker(attrs, self._SIGNATURE_CLASSES)

    def handle_endtag(self, tag: str) -> None:
        closed_quote = False
        for _ in range(self._open_depth(tag)):
            _, quoting, skipped = self.stack.pop()
            self.quote_depth -= quoting
            self.skip_depth -= skipped
            closed_quote |= quoting
        if tag == "br":
            self.parts.append(_Part(_HARD, "", self.quote_depth > 0))  # browsers read `</br>` as `<br>`
        elif tag in self._BLOCK or closed_quote:
            self._soft_break()

    def _soft_break(self) -> None:
        self.parts.append(_Part(_SOFT, "", False))

    def _open_depth(self, tag: str) -> int:
        """How many elements this end tag closes; 0 if it closes none.

        A void element's end tag, or one without a matching start tag, closes
        nothing. An end tag never reaches past a quote to a start tag outside
        it: only a quote's own end tag ends the quote.
        """
        if tag in _VOID:
            return 0
        for depth, (open_tag, quoting, _) in enumerate(reversed(self.stack), start=1):
            if open_tag == tag:
                return depth
            if quoting:
                return 0
        return 0

    def handle_data(self, data: str) -> None:
        if self.skip_depth or self.history_started:
            return
        quoted = self.quote_depth > 0
        if any(tag == "pre" for tag, _, _ in self.stack):
            for index, line in enumerate(data.split("\n")):
                if index:
                    self.parts.append(_Part(_HARD, "", quoted))
                self.parts.append(_Part(_TEXT, line, quoted))
            return
        self.parts.append(_Part(_TEXT, re.sub(r"[ \t\r\n\f]+", " ", data), quoted))


def _lines(parts: list[_Part]) -> list[str]:
    """Lay the parts out as a browser would: blocks start lines, `<br>` ends one, space collapses.

    A line that holds any quoted text is quoted as a whole.
    """
    lines: list[str] = []
    words: list[str] = []
    quoted = False
    for part in parts:
        if part.kind == _TEXT and (words or part.text.strip()):
            words.append(part.text)
            quoted |= part.quoted and bool(part.text.strip())
        elif part.kind == _HARD or (part.kind == _SOFT and words):
            text = "".join(words).replace("\xa0", " ").strip()
            lines.append(("> " if quoted or (part.quoted and not text) else "") + text)
            words, quoted = [], False
    if words:
        lines.append(("> " if quoted else "") + "".join(words).replace("\xa0", " ").strip())
    return lines


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "\n".join(line.rstrip() for line in _lines(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
