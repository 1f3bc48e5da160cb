"""Every email's HTML laid out by headless Chromium at a phone's and a desktop's width: nothing may
be wider than the window (a page that scrolls sideways hides the amounts, or the buttons)."""
from __future__ import annotations

import os

import pytest

from tests import emailgallery
from tests.chromium import CHROMIUM, measure

#: .ci/run sets this: there the browser is installed, and a missing one must fail, not skip.
REQUIRED = os.environ.get("SUPPLIERBOT_TEST_REQUIRE_CHROMIUM") == "1"
pytestmark = pytest.mark.skipif(CHROMIUM is None and not REQUIRED,
                                reason="chromium is not installed (scripts/setup.sh installs it)")
WIDTHS = (390, 1000)


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str, int], int]:
    """One browser for every email, in English and German, at both widths (a few seconds)."""
    pages = {f"{language}:{name}": mail.html for language in ("en", "de")
             for name, mail in emailgallery.rendered(language)}
    pages["control:a bill table as it was"] = OLD_TABLE
    return {(*m.name.split(":", 1), m.width): m.scroll_width for m in measure(pages, WIDTHS)}


#: The approval table before this design: eight columns with a Change column, 484 px at least.
OLD_TABLE = ("<!DOCTYPE html><html><body><table border=1 cellpadding=6><tr>"
             + "".join(f"<th>{h}</th>" for h in ("SKU", "Description", "Qty", "Unit", "Unit price", "Tax %", "Net",
                                                 "Change"))
             + "</tr><tr><td>HYD-CYL-DW-063/040-0500-ZZ</td><td>Hydraulic cylinder</td><td>2</td><td>pcs</td>"
               "<td>1,234.50</td><td>19</td><td>2,469.00</td><td><b>changed</b> order:&nbsp;4,668.97</td>"
               "</tr></table></body></html>")


def test_the_ruler_sees_a_table_too_wide_for_a_phone(measured: dict) -> None:
    assert measured[("control", "a bill table as it was", 390)] > 390
    assert measured[("control", "a bill table as it was", 1000)] <= 1000


def test_every_template_is_laid_out(measured: dict) -> None:
    laid_out = {name.split("-")[0] if name.startswith("reminder") else name
                for language, name, _ in measured if language == "en"}
    assert set(emailgallery.templates()) <= laid_out


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ("en", "de"))
def test_no_email_is_wider_than_the_window(measured: dict, language: str, width: int) -> None:
    too_wide = {name: scroll for (lang, name, w), scroll in measured.items()
                if lang == language and w == width and scroll > width}
    assert too_wide == {}
