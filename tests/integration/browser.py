"""Headless Chromium (Debian's package) for looking at the reports as a person would."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

# The flags keep Chromium off the (closed) network and quiet on a machine without a screen.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError("chromium not found: install Debian's 'chromium' package (.ci/run does)")
    return path


def run_chromium(page: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            env={**os.environ, "HOME": profile},
        )


def screenshot(page: Path, png: Path, width: int = 1300, height: int = 1600) -> Path:
    run_chromium(page, f"--window-size={width},{height}", f"--screenshot={png}")
    return png


def dump_dom(page: Path) -> str:
    return run_chromium(page, "--dump-dom").stdout


def print_to_pdf(page: Path, pdf: Path) -> Path:
    run_chromium(page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    return pdf


def pixel_count(png: Path, colour: tuple[int, int, int]) -> int:
    """How many pixels of the screenshot have exactly this colour (Chromium paints CSS colours exactly)."""
    with Image.open(png) as image:
        return sum(1 for pixel in image.convert("RGB").get_flattened_data() if pixel == colour)


def hex_colour(css: str) -> tuple[int, int, int]:
    """``#aceebb`` -> (0xAC, 0xEE, 0xBB)."""
    value = css.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def pdf_text(pdf: Path) -> str:
    """The PDF's text as poppler's pdftotext reads it (Debian's poppler-utils)."""
    if shutil.which("pdftotext") is None:
        raise AssertionError("pdftotext not found: install Debian's 'poppler-utils' package (.ci/run does)")
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
