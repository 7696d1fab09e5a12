"""Name, phone and email normalisation and scoring for the duplicate check.

A name is folded to one comparable form: full-width to half-width (NFKC),
traditional to simplified Chinese (OpenCC), lower case without accents, legal
forms (S.A., S.L., Ltd, 有限公司...) and city prefixes dropped, and Chinese
characters spelt in toneless pinyin — so 深圳華強電子有限公司, 华强电子 and
"Huaqiang Dianzi" all become ``huaqiangdianzi``. Typos are then scored with
rapidfuzz. Phones become E.164 (``phonenumbers``, in the tenant's country);
emails match exactly and by domain unless the domain is a free-mail one.

:func:`match_keys` gives the short keys stored per record (``match_key``
entity) so candidates are found by an indexed lookup, not by a scan.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

__all__ = [
    "FREE_MAIL_DOMAINS",
    "Folded",
    "email_domain",
    "fold_name",
    "match_keys",
    "name_score",
    "normalise_email",
    "normalise_phone",
]

#: Addresses at these domains say nothing about the company behind them.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    """gmail.com googlemail.com hotmail.com hotmail.es hotmail.co.uk outlook.com outlook.es
    live.com msn.com yahoo.com yahoo.es yahoo.com.ph yahoo.co.uk icloud.com me.com aol.com
    gmx.com gmx.es gmx.de proton.me protonmail.com yandex.ru mail.ru qq.com foxmail.com
    163.com 126.com yeah.net sina.com sina.cn sohu.com 139.com aliyun.com telefonica.net
    terra.es movistar.es""".split()
)

# Legal forms and filler words that do not tell companies apart (after dots are removed).
_LATIN_NOISE = frozenset(
    """sa sl slu sau sll scoop sc sociedad anonima limitada cb ltd ltda limited inc
    incorporated llc llp plc co corp corporation company gmbh ag bv nv srl spa sarl sas
    pte pty kk the and y e de del la las los el of und et cia""".split()
)
# Chinese legal forms, longest first so 股份有限公司 goes before 有限公司.
_CJK_LEGAL = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "股份",
    "分公司",
    "总公司",
    "集团",
    "公司",
)
# City and region prefixes: 深圳市华强 and 华强 are the same company to a sales team.
_CJK_PLACES = (
    "深圳",
    "广州",
    "东莞",
    "佛山",
    "惠州",
    "中山",
    "珠海",
    "上海",
    "北京",
    "天津",
    "重庆",
    "苏州",
    "杭州",
    "宁波",
    "南京",
    "武汉",
    "成都",
    "厦门",
    "香港",
    "澳门",
    "台北",
    "广东",
    "江苏",
    "浙江",
)
_PLACE_PINYIN = frozenset(
    "".join(lazy_pinyin(p)) for p in _CJK_PLACES
)  # "Shenzhen Huaqiang" in Latin letters
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_PARENS = re.compile(r"[(\[（【][^)\]）】]*[)\]）】]")
_SPLIT = re.compile(r"[^0-9a-z\u3400-\u9fff\uf900-\ufaff]+")


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Folded:
    """A name in comparable form.

    ``tokens`` are the words left once legal forms and places are dropped, each
    Chinese run spelt in pinyin; ``skeleton`` is them joined; ``hanzi`` the
    simplified Chinese characters (empty for Latin names); ``syllables`` the
    pinyin syllables of the Chinese part, for blocking keys.
    """

    tokens: tuple[str, ...]
    skeleton: str
    hanzi: str = ""
    syllables: tuple[str, ...] = field(default=())
    #: Whether some word is written in Latin letters (so pinyin is compared, not characters).
    latin: bool = False
    #: ``tokens`` before plurals were folded (typos are judged on what was typed).
    raw: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def fold_name(name: str) -> Folded:
    text = unicodedata.normalize("NFKC", name or "")
    text = _t2s().convert(text).casefold()
    # A parenthesised part is usually a place or a former name: 华强电子（深圳）.
    text = _PARENS.sub(" ", text)
    text = text.replace(".", "").replace("'", "").replace("’", "")
    text = _strip_accents(text).replace("&", " ")
    for legal in _CJK_LEGAL:
        text = text.replace(legal, " ")
    tokens: list[str] = []
    hanzi: list[str] = []
    syllables: list[str] = []
    latin = False
    raw: list[str] = []
    for word in _SPLIT.split(text):
        if not word:
            continue
        for part in re.split(f"({_CJK.pattern})", word):
            if not part:
                continue
            if _CJK.fullmatch(part):
                for place in _CJK_PLACES:
                    if part.startswith(place) and len(part) > len(place):
                        part = part[len(place) :].removeprefix("市").removeprefix("省")
                if not part:
                    continue  # only a place (深圳市): nothing that names the company
                hanzi.append(part)
                spelt = lazy_pinyin(part, style=Style.NORMAL)
                syllables += spelt
                tokens.append("".join(spelt))
                raw.append(tokens[-1])
            elif part not in _LATIN_NOISE:
                tokens.append(_singular(part))
                raw.append(part)
                latin = True
    if len(tokens) > 1 and tokens[0] in _PLACE_PINYIN:
        tokens, raw = tokens[1:], raw[1:]
    return Folded(
        tuple(tokens), "".join(tokens), "".join(hanzi), tuple(syllables), latin, tuple(raw)
    )


def _typo_of(a: str, b: str) -> bool:
    """Whether two different words read as one word mistyped rather than two words.

    Typists slip inside a word — a swap, a missing or extra letter — but rarely
    on the first letter, and a short word changed by a letter is another word
    (Labs, Cab, Gómez/Gámez); Martín and Martínez differ by two letters.
    """
    if a[0] != b[0] or min(len(a), len(b)) < 6:
        return False
    return OSA.distance(a, b) <= (2 if min(len(a), len(b)) >= 10 else 1)


def _words_agree(a: Folded, b: Folded) -> bool:
    """Both names have the same words, each equal to or a typo of its twin."""
    if len(a.tokens) != len(b.tokens):
        return False
    rest = list(range(len(b.tokens)))
    for i, word in enumerate(a.tokens):
        twin = next((j for j in rest if b.tokens[j] == word), None)
        if twin is None:
            twin = next((j for j in rest if _typo_of(a.raw[i], b.raw[j])), None)
        if twin is None:
            return False
        rest.remove(twin)
    return True


def _singular(word: str) -> str:
    """A crude plural fold for English and Spanish (supplies/supply, industrias)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def name_score(a: str, b: str) -> tuple[float, str]:
    """How alike two names are (0-100), and the reason code of the best evidence."""
    fa, fb = fold_name(a), fold_name(b)
    if not fa.skeleton or not fb.skeleton:
        return 0.0, ""
    if fa.skeleton == fb.skeleton:
        if fa.hanzi and fb.hanzi and fa.hanzi != fb.hanzi:
            return 92.0, "NAME_SAME_PINYIN"  # homophones: a likely typo with a pinyin IME
        return 100.0, "NAME_SAME"
    if fa.hanzi and fb.hanzi and not fa.latin and not fb.latin:
        # Both written in characters: a different character with a different sound is a
        # different word (电子 and 电器), not a typo; compare the characters themselves.
        return float(fuzz.ratio(fa.hanzi, fb.hanzi)), "NAME_SIMILAR"
    score = max(
        fuzz.ratio(fa.skeleton, fb.skeleton),
        fuzz.token_sort_ratio(" ".join(fa.tokens), " ".join(fb.tokens)),
    )
    # Beyond typos inside words (and words run together, caught by the skeleton's
    # ratio), a changed or extra word makes another company: Pérez/López, "Solutions".
    if not (_words_agree(fa, fb) and _words_agree(fb, fa)):
        score = min(score, 75.0)
    return float(min(score, 99.0)), "NAME_SIMILAR"


def normalise_phone(raw: str | None, country: str | None) -> str | None:
    """E.164 (``+8675588880000``), or ``None`` when it is not a possible number."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(str(raw), (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return unicodedata.normalize("NFKC", raw).strip().lower()


def email_domain(email: str | None, free: Iterable[str] = ()) -> str | None:
    """The company domain of an address, ``None`` for free-mail domains."""
    address = normalise_email(email)
    if address is None:
        return None
    domain = address.rpartition("@")[2].removeprefix("www.")
    if domain in FREE_MAIL_DOMAINS or domain in set(free):
        return None
    return domain


def website_domain(url: str | None) -> str | None:
    if not url:
        return None
    host = re.sub(r"^[a-z]+://", "", url.strip().lower()).split("/")[0].split(":")[0]
    return host.removeprefix("www.") or None


def name_keys(name: str | None) -> set[str]:
    """Blocking keys of a name: a true duplicate shares at least one with its original.

    The whole skeleton (exact after normalisation), each distinctive word, the
    first and last five letters (a typo rarely hits both ends), and pairs of
    pinyin syllables (one wrong character leaves the others' pairs intact).
    """
    folded = fold_name(name or "")
    skeleton = folded.skeleton
    if not skeleton:
        return set()
    keys = {f"s:{skeleton}"}
    keys |= {f"t:{t}" for t in folded.tokens if len(t) >= 4 and t != skeleton}
    if len(skeleton) >= 7:
        keys |= {f"p:{skeleton[:5]}", f"x:{skeleton[-5:]}"}
    syl = folded.syllables
    keys |= {f"b:{syl[i]}{syl[i + 1]}" for i in range(len(syl) - 1)}
    return keys


def match_keys(
    names: Iterable[str | None],
    phones: Iterable[str | None],
    emails: Iterable[str | None],
    domains: Iterable[str | None],
    country: str | None,
) -> set[str]:
    """Every key stored for one record (names, E.164 phones, emails, company domains)."""
    keys: set[str] = set()
    for name in names:
        keys |= name_keys(name)
    keys |= {f"ph:{p}" for p in (normalise_phone(x, country) for x in phones) if p}
    keys |= {f"em:{e}" for e in (normalise_email(x) for x in emails) if e}
    keys |= {f"dm:{d}" for d in domains if d}
    # Keys are indexed text: keep them short enough for any slot.
    return {k[:200] for k in keys}
