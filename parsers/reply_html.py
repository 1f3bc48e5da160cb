"""HTML part of a reply → plain text, with quoted parts marked as '>' lines.

The reply reader works on text; this turns an HTML-only reply into text in
which everything the client shows as quoted (blockquotes, Gmail/Yahoo/
Thunderbird quote containers) is prefixed with '>', and Outlook's history
after its reply markers is left out.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser


#: Elements that have no content and no end tag (HTML Living Standard, "void elements").
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})


class _TextExtractor(HTMLParser):
    """HTML → text; blockquotes and known quote containers become '>' lines."""

    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "hr"}
    _SKIP = {"style", "script", "head", "title"}
    _QUOTE_IDS = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
    #: Outlook puts the history after these markers as siblings, not inside them.
    _HISTORY_IDS = ("divrplyfwdmsg", "appendonsend")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.history_started = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.history_started |= self._has_marker(attrs, self._HISTORY_IDS)
        quoting = tag == "blockquote" or self._has_marker(attrs, self._QUOTE_IDS)
        if tag not in _VOID:
            self.stack.append((tag, quoting))
            self.quote_depth += quoting
            self.skip_depth += tag in self._SKIP
        if tag in self._BLOCK or quoting:
            self.parts.append("\n")  # quoted text never shares a line with new text

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<br />` is one start tag; HTML ignores the slash, and so must we (the
        # default would also call handle_endtag, which closed the enclosing quote).
        self.handle_starttag(tag, attrs)

    @staticmethod
    def _has_marker(attrs: list[tuple[str, str | None]], markers: tuple[str, ...]) -> bool:
        values = " ".join((value or "") for name, value in attrs if name in {"id", "class"}).casefold()
        return any(marker in values for marker in markers)

    def handle_endtag(self, tag: str) -> None:
        closed_quote = False
        for _ in range(self._open_depth(tag)):
            open_tag, quoting = self.stack.pop()
            self.quote_depth -= quoting
            self.skip_depth -= open_tag in self._SKIP
            closed_quote |= quoting
        if tag in self._BLOCK or closed_quote:
            self.parts.append("\n")  # also a stray `</br>`, which browsers read as `<br>`

    def _open_depth(self, tag: str) -> int:
        """How many elements this end tag closes; 0 if it closes none.

        A void element's end tag, or one without a matching start tag, closes
        nothing. An end tag never reaches past a quote to a start tag outside
        it: only a quote's own end tag ends the quote.
        """
        if tag in _VOID:
            return 0
        for depth, (open_tag, quoting) in enumerate(reversed(self.stack), start=1):
            if open_tag == tag:
                return depth
            if quoting:
                return 0
        return 0

    def handle_data(self, data: str) -> None:
        if self.skip_depth or self.history_started:
            return
        if self.quote_depth:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.replace("\xa0", " ").rstrip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
