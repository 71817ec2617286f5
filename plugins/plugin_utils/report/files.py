"""Write the rendered report files; report whether anything on disk changed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def previous_generated_utc(dest: Path, report: Mapping[str, Any]) -> str | None:
    """The timestamp of an existing report.json that says the same thing as `report`.

    Re-using it keeps an unchanged audit byte-identical on disk, so a second run
    reports nothing changed.
    """
    try:
        old = json.loads((dest / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or "generated_utc" not in old:
        return None
    same = {k: v for k, v in old.items() if k != "generated_utc"} == {
        k: v for k, v in report.items() if k != "generated_utc"
    }
    return old["generated_utc"] if same else None


def write_files(dest: Path, files: Mapping[str, str]) -> list[str]:
    """Atomically write each changed file; return the names of those written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = dest / name
        data = content.encode("utf-8")
        try:
            if path.read_bytes() == data:
                continue
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(name)
    return written
