"""The screens' word catalog (web/src/lib/i18n.ts) is complete for every locale a demo tenant uses.

A word missing from a catalog falls back to English on screen, so a Chinese or
Tagalog user would meet English in the middle of their screens: this reads the
catalog file itself and fails on any gap.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "web" / "src" / "lib" / "i18n.ts"
SOURCES = sorted((ROOT / "web" / "src").rglob("*.ts*"))
CONFIGS = sorted((ROOT / "tenant_configs").glob("*.json"))

#: Words that are the same as in English on purpose (loanwords, or only placeholders).
SAME_AS_ENGLISH = {
    "zh": {"changedBy"},
    "es": {"no", "changedBy"},
    "tl": {
        "email",
        "password",
        "menu",
        "field",
        "operator",
        "kanban",
        "dashboard",
        "changedBy",
        "currency",
    },
}
#: Latin words a Chinese screen may show (file formats and product names).
LATIN_IN_CHINESE = {"PDF", "Excel"}


def _catalogs() -> dict[str, dict[str, str]]:
    text = CATALOG.read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for name, body in re.findall(r"const (\w+): Words = \{(.*?)\n\};", text, re.S):
        assert "..." not in body, f"catalog '{name}' spreads another: list every word"
        entries = re.findall(r'(\w+): "([^"]*)"', body)
        keys = [k for k, _ in entries]
        assert len(keys) == len(set(keys)), f"catalog '{name}' repeats a key"
        out[name] = dict(entries)
    languages = re.search(r"const WORDS: Record<string, Words> = \{([^}]*)\}", text)
    assert languages is not None
    listed = [w.strip() for w in languages.group(1).split(",") if w.strip()]
    assert sorted(listed) == sorted(out)
    return out


def _demo_languages() -> list[str]:
    found: set[str] = set()
    for path in CONFIGS:
        found |= {loc[:2] for loc in json.loads(path.read_text(encoding="utf-8"))["locales"]}
    return sorted(found)


CATALOGS = _catalogs()


def test_the_demo_tenants_use_english_chinese_spanish_and_tagalog() -> None:
    assert _demo_languages() == ["en", "es", "tl", "zh"]


@pytest.mark.parametrize("language", _demo_languages())
def test_every_demo_locale_has_every_word(language: str) -> None:
    english = CATALOGS["en"]
    words = CATALOGS.get(language)
    assert words is not None, f"no catalog for '{language}'"
    assert sorted(set(english) - set(words)) == [], "missing (shown in English)"
    assert sorted(set(words) - set(english)) == [], "unknown to English"
    for key, text in words.items():
        assert text.strip(), key
        # The same placeholders, so no value is lost in translation.
        assert sorted(re.findall(r"\{(\w+)\}", text)) == sorted(
            re.findall(r"\{(\w+)\}", english[key])
        ), key
    if language != "en":
        same = {k for k, v in words.items() if v == english[k]}
        assert same <= SAME_AS_ENGLISH[language], sorted(same - SAME_AS_ENGLISH[language])


def test_chinese_words_hold_no_english() -> None:
    for key, text in CATALOGS["zh"].items():
        latin = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{\w+\}", "", text)))
        assert latin <= LATIN_IN_CHINESE, (key, text)


def test_every_word_the_screens_ask_for_exists() -> None:
    used: set[str] = set()
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\((?:lang, )?"(\w+)"', source))
    assert used, "no t(...) calls found: has the catalog's API changed?"
    assert sorted(used - set(CATALOGS["en"])) == []
