"""Jinja2 rendering of every email: strict (a missing variable is a bug), HTML autoescaped."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from bot.bills import format_money, line_net


PREHEADER_LENGTH = 140  # about what Gmail, Outlook and Apple Mail show beside or under the subject


@dataclass(frozen=True)
class Rendered:
    text: str
    html: str | None


class Renderer:
    """Templates are loaded once per process, not per message."""

    def __init__(self) -> None:
        loader = FileSystemLoader(str(resources.files("templates")))
        self.text_env = self._env(loader, autoescape=False)
        self.html_env = self._env(loader, autoescape=True)

    @staticmethod
    def _env(loader: FileSystemLoader, autoescape: bool) -> Environment:
        env = Environment(loader=loader, undefined=StrictUndefined, autoescape=autoescape,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters["money"] = _money
        env.filters["net"] = line_net
        env.filters["price"] = _price
        env.filters["qty"] = lambda value: f"{value:,}" if isinstance(value, Decimal) else str(value)
        return env

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        text = self.text_env.get_template(f"{name}.txt").render(context)
        preheader = preheader_of(text, context.get("marker"))
        try:
            html = self.html_env.get_template(f"{name}.html").render({**context, "preheader": preheader})
        except TemplateNotFound:
            html = self.html_env.get_template("_plain.html").render({"text": text, "preheader": preheader})
        return Rendered(text, html)


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


def _money(amount: Decimal, currency: str = "") -> str:
    return format_money(amount, currency).strip()


def _price(value: Decimal) -> str:
    """Unit prices keep their precision but show at least cents: 3.9 → 3.90, 0.125 → 0.125."""
    return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:,}"
