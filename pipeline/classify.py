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
    "人脸视频": 3,
    "口罩人脸": 3,
    "人脸库": 3,
    "四件套": 3,
    "手持身份证": 3,
    "料子": 2,  # slang for stolen personal data
    "实名": 1,
    "身份证": 1,
    "自拍": 1,
    "照片": 1,
    "face dataset": 2,
    "face data": 3,
    "face photos": 3,
    "face images": 3,
    "selfie with id": 3,
    "id selfie": 3,
    "kyc pack": 3,
    "selfie pack": 3,
    "id card": 1,
    "selfie": 1,
    "fullz": 2,
    "dump": 2,
    "leak": 1,
}
OVER_FACE_TERMS = {
    "过人脸": 4,
    "代过": 2,
    "刷脸": 3,
    "过活体": 4,
    "绕过活体": 4,
    "活体检测": 2,
    "活体": 2,
    "换脸": 3,
    "照片活化": 4,
    "虚拟摄像头": 3,
    "破解": 1,
    "liveness bypass": 4,
    "bypass liveness": 4,
    "kyc bypass": 4,
    "bypass kyc": 4,
    "face swap": 3,
    "virtual camera": 3,
    "camera injection": 3,
    "inject": 1,
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
# Decoys: cosmetics, research, security vendors, and unrelated goods that share a term.
BENIGN_TERMS = {
    "面霜": 4,
    "洗面奶": 4,
    "面膜": 4,
    "护肤": 4,
    "考勤": 4,
    "门禁": 3,
    "论文": 3,
    "学术": 3,
    "研究": 3,
    "课题": 3,
    "证件照": 3,
    "美颜": 3,
    "海鲜": 4,
    "螃蟹": 4,
    "大闸蟹": 4,
    "营业厅": 3,
    "face cream": 4,
    "face wash": 4,
    "face painting": 4,
    "moisturizer": 4,
    "skincare": 4,
    "skin care": 4,
    "research": 3,
    "paper": 2,
    "university": 2,
    "conference": 2,
    "benchmark": 2,
    "workshop": 2,
    "anti-spoofing": 3,
    "compliance": 3,
    "detecting": 2,
}
THREAT_THRESHOLD = 3


# Traditional -> simplified for the characters our terms use, so Big5 (Taiwan, Hong Kong)
# listings hit the same terms.
_TRADITIONAL = str.maketrans(
    "臉過據數圖庫實證換頭體檢測軟護膚學論題現貨售賣單價蟹鮮營廳門禁課張套組條號攝像視頻鏡照術機飛電報騰",
    "脸过据数图库实证换头体检测软护肤学论题现货售卖单价蟹鲜营厅门禁课张套组条号摄像视频镜照术机飞电报腾",
)


def squeeze(text: str) -> str:
    """NFKC, lower case, traditional characters simplified, and only letters and digits kept:
    defeats spacing/symbol obfuscation."""
    normal = unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL)
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

_NUM = r"(\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?)"  # 100,000 or 0.2
_MULT = r"(万|w|k|千|m|million|百万|亿)?"
_CURRENCY_AFTER = re.compile(_NUM + r"\s*" + _MULT + r"\s*(元|块|rmb|cny|usdt|usd|btc|\$|美元|美金)(?![a-z])", re.I)
_CURRENCY_BEFORE = re.compile(r"(¥|\$|usdt|usd|rmb)\s*" + _NUM + _MULT + r"(?!\d|\.\d)", re.I)
_PER = r"^\s*(/|每|一|per\b|a\b)?\s*"
_ITEM_UNITS = r"(张|条|个|只|单|人|号|photo|pic|image|each|pc|account|record|selfie|face)"
_PACK_UNITS = r"(套|份|组|pack|set|kit|bundle)"
_PER_ITEM = re.compile(_PER + _ITEM_UNITS, re.I)
_PER_PACK = re.compile(_PER + _PACK_UNITS, re.I)
# "每张 3 元", "一套 ¥35", "单价 680元": the unit stated just before the amount
_PER_ITEM_BEFORE = re.compile(r"(每|一)\s*(张|条|个|只|单|人)\s*(价格|价)?\s*[:：]?\s*$|单价\s*[:：]?\s*$")
_PER_PACK_BEFORE = re.compile(r"(每|一)\s*(套|份|组)\s*(价格|价)?\s*[:：]?\s*$")
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
    _NUM + r"\s*" + _MULT + r"\+?\s*"
    r"(张|套|条|份|(?:photos|images|pics|records|faces|sets|packs|selfies|accounts|entries|fullz)\b)",
    re.I,
)
_MULTIPLIER = {"万": 10_000, "w": 10_000, "k": 1_000, "千": 1_000, "m": 1_000_000, "million": 1_000_000,
               "百万": 1_000_000, "亿": 100_000_000}  # fmt: skip
# QQ numbers, also spaced out in groups ("3345 6789") to dodge filters
_DIGITS = r"([1-9]\d{4,11}|[1-9]\d{2,4}(?:[\s-]\d{3,4}){1,2})(?!\d)"
_QQ_GROUP = re.compile(r"(?:qq群|q群|扣扣群|qq\s*group|群号)\s*[:：]?\s*" + _DIGITS, re.I)
_QQ = re.compile(r"(?:qq|扣扣|企鹅)(?!\s*群|\s*group)\s*(?:号)?\s*[:：]?\s*" + _DIGITS, re.I)
# A WeChat id after the label; without a colon it must look like an id (digit or "_"), so
# "wechat payment" is not read as a contact.
_WECHAT = re.compile(
    r"(?:微信|wechat|v信|vx|wx|薇信|威信)\s*(?:号)?\s*(?:[:：]\s*([a-z][-_a-z0-9]{5,19})|([a-z][-a-z]*[_0-9][-_a-z0-9]*))",
    re.I,
)
_TELEGRAM = re.compile(r"(?:telegram|tg|飞机|电报)\s*(?:[:：]\s*@?|@)([a-z][a-z0-9_]{4,31})", re.I)
_TME = re.compile(r"(?<![a-z])(?:t|telegram)\.me/([a-z][a-z0-9_]{4,31})", re.I)
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.I)


@dataclass(frozen=True)
class Entities:
    prices: tuple[Price, ...]
    quantity: int | None
    contacts: tuple[Contact, ...]


def _number(digits: str, multiplier: str | None) -> float:
    return float(digits.replace(",", "")) * _MULTIPLIER.get((multiplier or "").lower(), 1)


def _price_unit(before: str, after: str) -> str:
    if _PER_ITEM.match(after) or _PER_ITEM_BEFORE.search(before):
        return "per_item"
    if _PER_PACK.match(after) or _PER_PACK_BEFORE.search(before):
        return "per_pack"
    return "total"


def extract_entities(text: str) -> Entities:
    text = unicodedata.normalize("NFKC", text)  # full-width ￥, ：and digits become ASCII
    prices: dict[tuple[float, str, str], Price] = {}
    spans: list[tuple[int, int]] = []
    for m in _CURRENCY_AFTER.finditer(text):
        amount, currency = _number(m.group(1), m.group(2)), _CURRENCIES[m.group(3).lower()]
        unit = _price_unit(text[max(0, m.start() - 8) : m.start()], text[m.end() : m.end() + 12])
        prices.setdefault((amount, currency, unit), Price(amount, currency, unit))
        spans.append(m.span())
    for m in _CURRENCY_BEFORE.finditer(text):
        if any(start <= m.start() < end for start, end in spans):
            continue  # "$" already read as a suffix of the amount before it
        amount, currency = _number(m.group(2), m.group(3)), _CURRENCIES[m.group(1).lower()]
        unit = _price_unit(text[max(0, m.start() - 8) : m.start()], text[m.end() : m.end() + 12])
        prices.setdefault((amount, currency, unit), Price(amount, currency, unit))

    quantity: int | None = None
    for m in _QUANTITY.finditer(text):
        quantity = max(quantity or 0, int(_number(m.group(1), m.group(2))))

    contacts: dict[tuple[str, str], Contact] = {}

    def add(kind: str, value: str) -> None:
        contacts.setdefault((kind, value), Contact(kind, value))

    group_spans = []
    for m in _QQ_GROUP.finditer(text):
        add("qq_group", re.sub(r"\D", "", m.group(1)))
        group_spans.append(m.span())
    for m in _QQ.finditer(text):
        if not any(start <= m.start() < end for start, end in group_spans):
            add("qq", re.sub(r"\D", "", m.group(1)))
    for m in _WECHAT.finditer(text):
        add("wechat", (m.group(1) or m.group(2)).lower())
    for pattern in (_TELEGRAM, _TME):
        for m in pattern.finditer(text):
            add("telegram", m.group(1).lower())
    for m in _EMAIL.finditer(text):
        add("email", m.group(0).lower())
    return Entities(tuple(prices.values()), quantity, tuple(contacts.values()))
