"""Scans and photos → words with positions, by Tesseract OCR (Debian's tesseract-ocr, eng+deu+fra).

Images are opened with Pillow's decompression-bomb guard and a pixel limit before any pixel is
decoded; each page is read in a tesseract process of its own with a time limit, so a hostile or
huge image costs bounded time and memory and can never take the bot down with it.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass

from parsers.intake.words import Word


class ImageUnreadable(Exception):
    """The image cannot be read: broken, too large, or OCR is not available or timed out."""


@dataclass(frozen=True)
class OcrLimits:
    max_pixels: int = 40_000_000  # a 300 dpi A4 page is 8.7 million
    max_frames: int = 10
    seconds_per_page: float = 60.0
    languages: str = "eng+deu+fra"
    min_width: int = 2000  # smaller photos are enlarged: Tesseract wants ~30 px capital letters


def available() -> bool:
    return shutil.which("tesseract") is not None


def image_pages(data: bytes, limits: OcrLimits = OcrLimits()) -> list[bytes]:
    """Each frame (a multi-page TIFF has several) as a cleaned greyscale PNG ready for OCR."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > limits.max_pixels:
                raise ImageUnreadable(f"it has {image.width}×{image.height} pixels, more than a bill needs")
            frames = getattr(image, "n_frames", 1)
            if frames > limits.max_frames:
                raise ImageUnreadable(f"it has {frames} pages; at most {limits.max_frames} are read")
            pages = []
            for index in range(frames):
                image.seek(index)
                pages.append(_clean(ImageOps.exif_transpose(image.copy()), limits))
            return pages
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageUnreadable(f"it could not be opened as an image ({_plain(exc)})") from None


def _clean(image, limits: OcrLimits) -> bytes:
    from PIL import ImageFilter, ImageOps

    grey = ImageOps.grayscale(image)
    if grey.width < limits.min_width:
        factor = limits.min_width / grey.width
        grey = grey.resize((limits.min_width, round(grey.height * factor)))
    grey = ImageOps.autocontrast(grey, cutoff=1)
    if grey.width * grey.height > limits.max_pixels:
        raise ImageUnreadable("it is too large to read once enlarged")
    grey = grey.filter(ImageFilter.MedianFilter(3))
    out = io.BytesIO()
    grey.save(out, "PNG")
    return out.getvalue()


def _plain(exc: Exception) -> str:
    return "a decompression bomb" if "decompression bomb" in str(exc).lower() else "not a readable image"


def ocr_words(png: bytes, page: int, limits: OcrLimits = OcrLimits()) -> list[Word]:
    """Tesseract's words with boxes and confidences; its own line numbering keeps skewed rows apart."""
    if not available():
        raise ImageUnreadable("OCR (tesseract) is not installed on the bot's server")
    command = ["tesseract", "stdin", "stdout", "-l", limits.languages, "--psm", "6", "tsv"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per page: pages run side by side
    try:
        done = subprocess.run(command, input=png, capture_output=True, timeout=limits.seconds_per_page, env=env)
    except subprocess.TimeoutExpired:
        raise ImageUnreadable(f"reading it took longer than {limits.seconds_per_page:.0f} s a page") from None
    if done.returncode != 0:
        raise ImageUnreadable("OCR could not read it")
    return parse_tsv(done.stdout.decode("utf-8", "replace"), page)


def parse_tsv(tsv: str, page: int) -> list[Word]:
    words = []
    for record in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (record.get("text") or "").strip()
        if record.get("level") != "5" or not text:
            continue
        left, top = float(record["left"]), float(record["top"])
        line = (int(record["block_num"]), int(record["par_num"]), int(record["line_num"]))
        words.append(Word(text, left, left + float(record["width"]), top, top + float(record["height"]), page,
                          float(record["conf"]), line))
    return words
