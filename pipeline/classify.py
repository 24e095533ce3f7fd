"""Keyword classification of listings and extraction of prices, quantities and contacts.

Text is normalised before matching (NFKC, lower case, separators removed) so that obfuscations
such as "人-脸 数.据" or "l i v e n e s s" still hit their terms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.models import Category, Contact, Price

# term -> weight, per signal. Terms are written plainly; they are squeezed like the text.
FACE_DATA_TERMS = {
    "人脸数据": 3,
    "人脸照片": 3,
    "人脸图片": 3,
    "口罩人脸": 3,
    "人脸库": 3,
    "四件套": 3,
    "手持身份证": 3,
    "实名": 1,
    "身份证": 1,
    "自拍": 1,
    "照片": 1,
    "face dataset": 2,
    "face data": 3,
    "face photos": 3,
    "selfie with id": 3,
    "id selfie": 3,
    "kyc pack": 3,
    "selfie pack": 3,
    "id card": 1,
    "fullz": 2,
}
OVER_FACE_TERMS = {
    "过人脸": 4,
    "刷脸": 3,
    "过活体": 4,
    "活体检测": 2,
    "活体": 2,
    "换脸": 3,
    "照片活化": 4,
    "虚拟摄像头": 3,
    "liveness bypass": 4,
    "bypass liveness": 4,
    "kyc bypass": 4,
    "bypass kyc": 4,
    "face swap": 3,
    "virtual camera": 3,
    "over face": 3,
    "overface": 3,
    "deepfake": 2,
    "photo animation": 3,
}
TUTORIAL_TERMS = {
    "教程": 3,
    "教学": 3,
    "步骤": 1,
    "方法": 1,
    "tutorial": 3,
    "step by step": 3,
    "guide": 2,
    "how to": 2,
    "walkthrough": 3,
}
BENIGN_TERMS = {
    "面霜": 4,
    "洗面奶": 4,
    "护肤": 4,
    "face cream": 4,
    "face wash": 4,
    "moisturizer": 4,
    "skincare": 4,
    "skin care": 4,
    "research": 3,
    "paper": 2,
    "university": 2,
    "conference": 2,
    "benchmark": 2,
}
THREAT_THRESHOLD = 3


def squeeze(text: str) -> str:
    """NFKC, lower case, and only letters and digits kept: defeats spacing/symbol obfuscation."""
    normal = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in normal if ch.isalnum())


def _squeezed_terms(terms: dict[str, int]) -> dict[str, tuple[str, int]]:
    return {squeeze(t): (t, w) for t, w in terms.items()}


_SIGNALS = {
    name: _squeezed_terms(terms)
    for name, terms in (
        ("face_data", FACE_DATA_TERMS),
        ("over_face", OVER_FACE_TERMS),
        ("tutorial", TUTORIAL_TERMS),
        ("benign", BENIGN_TERMS),
    )
}


@dataclass(frozen=True)
class Classification:
    category: Category
    score: float  # 0..1, confidence in the category
    evidence: tuple[str, ...]


def _score(squeezed: str, signal: str) -> tuple[int, list[str]]:
    total, found = 0, []
    for key, (term, weight) in _SIGNALS[signal].items():
        if key in squeezed:
            total += weight
            found.append(term)
    return total, found


def classify(title: str, text: str) -> Classification:
    squeezed = squeeze(f"{title} {title} {text}")  # title twice: it says what is on offer
    face, face_ev = _score(squeezed, "face_data")
    over, over_ev = _score(squeezed, "over_face")
    tut, tut_ev = _score(squeezed, "tutorial")
    benign, benign_ev = _score(squeezed, "benign")
    threat = face + over
    if threat - benign < THREAT_THRESHOLD:
        return Classification("benign", _confidence(benign + 1, threat), tuple(benign_ev))
    category: Category
    if tut >= 3:
        category, evidence = "tutorial", tut_ev + over_ev + face_ev
    elif over > face:
        category, evidence = "over_face_tool", over_ev + face_ev
    else:
        category, evidence = "face_data_sale", face_ev + over_ev
    return Classification(category, _confidence(threat + tut, benign), tuple(evidence))


def _confidence(for_: int, against: int) -> float:
    return round(for_ / (for_ + against + 2), 3)


def detect_lang(text: str) -> str:
    """ "zh" when a real share of the letters are CJK ideographs, "en" for Latin text, else ""."""
    cjk = latin = 0
    for ch in text[:5000]:
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            cjk += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if cjk and cjk * 3 >= latin:  # one ideograph carries about a word: weigh them up
        return "zh"
    return "en" if latin else ""


# --- entities -------------------------------------------------------------------------------

_NUM = r"(\d+(?:\.\d+)?)"
_CURRENCY_AFTER = re.compile(_NUM + r"\s*(元|块|rmb|cny|usdt|usd|btc|\$|美元|美金)", re.I)
_CURRENCY_BEFORE = re.compile(r"(¥|\$|usdt|usd|rmb)\s*" + _NUM, re.I)
_PER = r"^\s*(/|每|一|per\b|a\b)?\s*"
_PER_ITEM = re.compile(_PER + r"(张|条|个|photo|pic|image|each|pc)", re.I)
_PER_PACK = re.compile(_PER + r"(套|份|组|pack|set|kit)", re.I)
_CURRENCIES = {
    "元": "CNY",
    "块": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "usd": "USD",
    "$": "USD",
    "美元": "USD",
    "美金": "USD",
    "usdt": "USDT",
    "btc": "BTC",
}
_QUANTITY = re.compile(
    _NUM + r"\s*(万|w|k|千)?\+?\s*(张|套|条|份|(?:photos|images|pics|records|faces|sets|packs)\b)", re.I
)
_MULTIPLIER = {"万": 10_000, "w": 10_000, "k": 1_000, "千": 1_000}
_QQ = re.compile(r"(?:qq|扣扣|企鹅|q群)\s*(?:群)?\s*[:：]?\s*([1-9]\d{4,11})", re.I)
_WECHAT = re.compile(r"(?:微信|wechat|v信|vx|wx|薇信)\s*[:：]?\s*([a-z][-_a-z0-9]{5,19})", re.I)
_TELEGRAM = re.compile(r"(?:telegram|tg|飞机|电报)\s*[:：]?\s*@?([a-z][a-z0-9_]{4,31})", re.I)
_TME = re.compile(r"t\.me/([a-z][a-z0-9_]{4,31})", re.I)
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.I)


@dataclass(frozen=True)
class Entities:
    prices: tuple[Price, ...]
    quantity: int | None
    contacts: tuple[Contact, ...]


def _price_unit(after: str) -> str:
    if _PER_ITEM.match(after):
        return "per_item"
    if _PER_PACK.match(after):
        return "per_pack"
    return "total"


def extract_entities(text: str) -> Entities:
    text = unicodedata.normalize("NFKC", text)  # full-width ￥ and digits become ASCII
    prices: dict[tuple[float, str, str], Price] = {}
    for m in _CURRENCY_AFTER.finditer(text):
        currency = _CURRENCIES[m.group(2).lower()]
        price = Price(float(m.group(1)), currency, _price_unit(text[m.end() : m.end() + 10]))
        prices.setdefault((price.amount, price.currency, price.unit), price)
    for m in _CURRENCY_BEFORE.finditer(text):
        currency = _CURRENCIES[m.group(1).lower()]
        price = Price(float(m.group(2)), currency, _price_unit(text[m.end() : m.end() + 10]))
        prices.setdefault((price.amount, price.currency, price.unit), price)

    quantity: int | None = None
    for m in _QUANTITY.finditer(text):
        value = int(float(m.group(1)) * _MULTIPLIER.get((m.group(2) or "").lower(), 1))
        quantity = max(quantity or 0, value)

    contacts: dict[tuple[str, str], Contact] = {}
    for kind, pattern in (("qq", _QQ), ("wechat", _WECHAT), ("telegram", _TELEGRAM), ("telegram", _TME)):
        for m in pattern.finditer(text):
            handle = m.group(1).lower() if kind != "qq" else m.group(1)
            contacts.setdefault((kind, handle), Contact(kind, handle))
    for m in _EMAIL.finditer(text):
        contacts.setdefault(("email", m.group(0).lower()), Contact("email", m.group(0).lower()))
    return Entities(tuple(prices.values()), quantity, tuple(contacts.values()))
