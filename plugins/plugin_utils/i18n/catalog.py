"""Message catalogs: one data file per language, ``{name}`` placeholders, strict lookups.

Catalog files (``en.yml``, ``ja.yml`` next to this module, plus ``<lang>.<area>.yml`` files
such as ``en.remediation.yml``) map dotted keys to text; one language's files must not
define a key twice.
Every key exists in every catalog with the same placeholders (tests/unit/i18n).
Japanese wording follows Microsoft's Japanese edition of the 10054 article (docs/scenarios.md).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "ja")
CATALOG_DIR = Path(__file__).parent


class CatalogError(LookupError):
    """Unknown language or key, or parameters that do not fit the message."""


def catalog_files(lang: str) -> list[Path]:
    """``<lang>.yml`` (the audit) and ``<lang>.<area>.yml`` (e.g. ``en.remediation.yml``)."""
    return [CATALOG_DIR / f"{lang}.yml", *sorted(CATALOG_DIR.glob(f"{lang}.*.yml"))]


@cache
def catalog(lang: str) -> Mapping[str, str]:
    if lang not in LANGUAGES:
        raise CatalogError(f"lang: unknown language {lang!r}, expected one of {list(LANGUAGES)}")
    merged: dict[str, str] = {}
    for path in catalog_files(lang):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise CatalogError(f"catalog {path.name}: expected a flat mapping of string keys to strings")
        twice = sorted(set(data) & set(merged))
        if twice:
            raise CatalogError(f"catalog {path.name}: keys already defined in another {lang} file: {twice}")
        merged.update(data)
    return merged


def placeholders(text: str) -> set[str]:
    """Names of the ``{name}`` fields of a message (no format specs or conversions allowed)."""
    names = set()
    for _literal, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise CatalogError(f"placeholder {{{field}}}: expected a plain {{name}}")
        names.add(field)
    return names


def message(key: str, lang: str = "en", **params: Any) -> str:
    """The text of ``key`` in ``lang`` with ``params`` filled in; extra params are ignored."""
    messages = catalog(lang)
    if key not in messages:
        raise CatalogError(f"key: unknown message key {key!r} in catalog {lang!r}")
    text = messages[key]
    missing = sorted(placeholders(text) - set(params))
    if missing:
        raise CatalogError(f"message {key!r} ({lang}): missing parameter(s) {missing}")
    return text.format_map({name: params[name] for name in placeholders(text)})


def has_key(key: str, lang: str = "en") -> bool:
    return key in catalog(lang)
