"""HTML part of a reply → plain text, with quoted parts marked as '>' lines.

The reply reader works on text; this turns an HTML-only reply into text in
which everything the client shows as quoted (blockquotes, Gmail/Yahoo/
Thunderbird quote containers) is prefixed with '>', and Outlook's history
after its reply markers is left out.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser


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
        if tag not in {"br", "hr", "img", "meta", "link", "input"}:
            self.stack.append((tag, quoting))
            self.quote_depth += quoting
            self.skip_depth += tag in self._SKIP
        if tag in self._BLOCK:
            self.parts.append("\n")

    @staticmethod
    def _has_marker(attrs: list[tuple[str, str | None]], markers: tuple[str, ...]) -> bool:
        values = " ".join((value or "") for name, value in attrs if name in {"id", "class"}).casefold()
        return any(marker in values for marker in markers)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, quoting = self.stack.pop()
            self.quote_depth -= quoting
            self.skip_depth -= open_tag in self._SKIP
            if open_tag == tag:
                break
        if tag in self._BLOCK:
            self.parts.append("\n")

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
