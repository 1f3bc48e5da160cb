"""Regenerate the README's screenshots of the emails (docs/emails/*.png) with headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/emails]

The emails are rendered by the bot's own templates from the gallery the layout tests use (the
demo's order: bolts dearer, gloves removed, freight added), at a phone's width (390 px) and a
desktop's (1000 px), then reduced to 128 colours so each PNG stays small.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.chromium import screenshot  # noqa: E402
from tests.emailgallery import rendered  # noqa: E402

#: (file, template, language, width): what a buyer sees, what a supplier sees
SHOTS = (
    ("buyer-approval-request-phone", "approval_request", "en", 390),
    ("buyer-approval-request-desktop", "approval_request", "en", 1000),
    ("supplier-new-order-phone", "new_order", "en", 390),
    ("supplier-draft-received-phone", "draft_received", "en", 390),
    ("supplier-approved-phone", "approved", "en", 390),
    ("supplier-rejected-phone-de", "rejected", "de", 390),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "emails")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    mails = {language: dict(rendered(language, short=True)) for language in ("en", "de")}
    for name, template, language, width in SHOTS:
        path = out / f"{name}.png"
        screenshot(mails[language][template].html, width, path)
        image = Image.open(path).convert("RGB")
        image = image.crop((0, 0, min(width, image.width), image.height))  # the window is 500 px at least
        image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
