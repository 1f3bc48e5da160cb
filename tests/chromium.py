"""Headless Chromium (Debian's `chromium`) as a ruler for emails: one browser process lays out every
page at every width, each in an iframe of that width, and reports how wide each document really is.

An iframe is the window of the document inside it: its media queries see the iframe's width, and a
document wider than it would scroll sideways. (`--window-size` alone cannot go below 500 px.)
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", "--mute-audio", "--virtual-time-budget=10000")


@dataclass(frozen=True)
class Measure:
    name: str
    width: int
    scroll_width: int  # how wide the document is laid out, in CSS px
    height: int

    @property
    def fits(self) -> bool:
        return self.scroll_width <= self.width


def harness(pages: dict[str, str], widths: tuple[int, ...], height: int = 900) -> str:
    """One page holding every email at every width; on load it writes what it measured into #out."""
    frames = "\n".join(
        f'<iframe data-name="{html.escape(name)}" data-width="{width}" width="{width}" height="{height}" '
        f'style="border:0;display:block" srcdoc="{html.escape(page)}"></iframe>'
        for name, page in pages.items() for width in widths)
    script = """
window.addEventListener("load", () => {
  const out = [...document.querySelectorAll("iframe")].map(f => {
    const d = f.contentDocument.documentElement;
    return {name: f.dataset.name, width: +f.dataset.width,
            scroll: Math.max(d.scrollWidth, f.contentDocument.body.scrollWidth), height: d.scrollHeight};
  });
  document.getElementById("out").textContent = JSON.stringify(out);
});"""
    return f"<!DOCTYPE html><html><body style='margin:0'><pre id='out'></pre>{frames}<script>{script}</script></body></html>"


def measure(pages: dict[str, str], widths: tuple[int, ...] = (390, 1000), timeout: float = 120) -> list[Measure]:
    assert CHROMIUM, "chromium is not installed"
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "harness.html"
        page.write_text(harness(pages, widths), encoding="utf-8")
        result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={folder}/profile", "--window-size=1100,900",
                                 "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=timeout)
    found = re.search(r"<pre id=\"out\">(.*?)</pre>", result.stdout, re.S)
    if not found or not found.group(1):
        raise RuntimeError(f"chromium measured nothing: {result.stderr[-2000:]}")
    return [Measure(m["name"], m["width"], m["scroll"], m["height"]) for m in json.loads(html.unescape(found.group(1)))]


def screenshot(page: str, width: int, out: Path, height: int | None = None, timeout: float = 60) -> None:
    """A PNG of `page` as a window `width` px wide shows it (the page in an iframe of that width),
    as tall as the page unless `height` cuts it."""
    assert CHROMIUM, "chromium is not installed"
    tall = height or measure({"page": page}, (width,))[0].height + 16
    with tempfile.TemporaryDirectory() as folder:
        frame = Path(folder) / "frame.html"
        frame.write_text(f"<!DOCTYPE html><html><body style='margin:0;background:#f3f4f6'>"
                         f"<iframe width='{width}' height='{tall}' style='border:0;display:block' "
                         f"srcdoc=\"{html.escape(page)}\"></iframe></body></html>", encoding="utf-8")
        subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={folder}/profile", f"--window-size={max(width, 500)},{tall}",
                        f"--screenshot={out}", frame.as_uri()], capture_output=True, timeout=timeout, check=True)
