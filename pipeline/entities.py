"""Prices, quantities and seller contacts in a listing's text, normalised.

Linear in the text: numbers are found in one pass and each looks at a bounded window around it
for a currency, a magnitude and a unit; contacts are read after their labels with bounded
patterns only. At most MAX_TEXT characters are read.

- Prices: an amount with a currency written before or after it (¥ ￥ $ € £ ₽ NT$ HK$, 元 块
  RMB CNY 人民币, USD 美元 美金 刀, USDT and `U`/`u` right after the number, BTC, ETH, EUR,
  GBP, RUB, TWD, HKD, JPY...), thousands separators in either width, magnitudes (2万, 1.5k), and
  in Chinese text an amount with only a unit price written (`1.5/张`, `单价 8`, `一条20`), in
  yuan. Each price says what it is for: per_item, per_set, per_lot (the whole lot), per_month,
  per_other (a device, a verification, a year...), or total.
- Quantities: a count of what is on offer with its unit (张 套 组 份 pcs sets kits photos records
  accounts GB...), magnitudes (10万, 1.5w, 3k+), stock lines (库存: 3200), ranges (300-500张: 400).
- Contacts: qq, qq_group, wechat (微信, V信, vx, 薇...), telegram (TG, 飞机, 电报, t.me links, and
  a bare @handle in a Telegram channel), email (also [at]/[dot] spellings), xmpp (jabber), phone,
  line, tox, session; obfuscations undone: spaced or Chinese-numeral digits, "中间没空格",
  "-换成_".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypeVar

from pipeline.models import Contact, Price, Quantity

MAX_TEXT = 50_000
WINDOW = 14  # characters read on each side of a number
MIN_COUNT = 10
T = TypeVar("T")

# --- normalisation -------------------------------------------------------------------------------

_CN_NUMERALS = "〇零一二三四五六七八九壹贰叁肆伍陆柒捌玖"
_CN_TABLE = str.maketrans(_CN_NUMERALS, "00123456789123456789")
# Five or more Chinese numerals in a row (spaces and dashes between them allowed) are a number
# spelled out to slip past filters: a QQ number, a phone number.
_CN_RUN = re.compile(f"[{_CN_NUMERALS}](?:[\\s\\-]{{0,2}}[{_CN_NUMERALS}]){{4,19}}")
_AT = re.compile(r"\s{0,2}[\[(<{]\s{0,2}(?:at|@|艾特)\s{0,2}[\])>}]\s{0,2}", re.I)
_DOT = re.compile(r"\s{0,2}[\[(<{]\s{0,2}(?:dot|点|\.)\s{0,2}[\])>}]\s{0,2}", re.I)


_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[ \t\u3000]{1,3}(?=[\u4e00-\u9fff])")
# Four or more single letters, digits or @ _ . : apart, "C H E N G T A O _ 1 6 8": spelled out.
_SPELLED = re.compile(r"(?<!\S)(?:[A-Za-z0-9_@.:=](?: |$)){3,40}[A-Za-z0-9_@.:=](?!\S)")


# Cyrillic and Greek letters that look like Latin ones; a word that mixes them with Latin letters
# ("расkѕ", "uѕdt") was written to slip past filters, and is read as the Latin word it shows.
HOMOGLYPHS = str.maketrans(
    "аеорсуххѕіјԁԛԝһкмтвнАВЕКМНОРСТХУЅІЈαονρικτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxxsijdqwhkmtbhABEKMHOPCTXYSIJaovpiktuxABEZHIKMNOPTYX",
)
_FOREIGN = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0500-\u052f]")
_MIXED_WORD = re.compile(
    r"[\w\u0370-\u052f]*(?:[A-Za-z][\w]*[\u0370-\u052f]|[\u0370-\u052f][\w]*[A-Za-z])[\w\u0370-\u052f]*"
)


def fold_homoglyphs(text: str) -> str:
    """Words that mix Latin with Cyrillic or Greek lookalikes, in Latin letters; all-Cyrillic and
    all-Greek words ("руб") are left as written."""
    if not _FOREIGN.search(text):
        return text
    return _MIXED_WORD.sub(lambda m: m.group(0).translate(HOMOGLYPHS), text)


# A count in Chinese numerals before a measure word: 两千套 is 2000套, 三万张 30000张.
_CN_COUNT = re.compile(
    r"(?<![零一二两三四五六七八九十百千万])([零一二两三四五六七八九十百千万]{2,8})(?=多|余|张|張|套|组|組|条|條|人|位|个|個|份|段|支)"
)


def _count_digits(m: re.Match[str]) -> str:
    value = _chinese_number(m.group(1))
    return m.group(0) if value is None else str(int(value))


def normalise(text: str) -> str:
    """NFKC (full-width digits, letters and punctuation to ASCII), spaces between Chinese
    characters dropped (Chinese needs none: "企 鹅" is 企鹅, spaced out to slip past filters),
    Chinese-numeral runs to digits, [at]/(dot) spellings to @ and ."""
    text = fold_homoglyphs(unicodedata.normalize("NFKC", text[:MAX_TEXT]))
    text = _CJK_GAP.sub("", text)
    text = _SPELLED.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _CN_RUN.sub(lambda m: m.group(0).translate(_CN_TABLE), text)
    text = _CN_COUNT.sub(_count_digits, text)
    text = _AT.sub("@", text)
    return _DOT.sub(".", text)


def _unique(items: list[T]) -> list[T]:
    return list(dict.fromkeys(items))


# --- numbers ------------------------------------------------------------------------------------

# 1,200 / 1200 / 0.35; a separator must be followed by exactly three digits, so "1,200," (a
# full-width comma after it, ASCII after NFKC) is still 1200.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?<!\d,)(\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.(\d{1,8}))?(?!\d|,\d{3})")
_MAGNITUDE = re.compile(r"\s?(万|w|k|千|mn|million|百万|亿|m)(?![a-z])", re.I)
_MAGNITUDES = {"万": 1e4, "w": 1e4, "k": 1e3, "千": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "百万": 1e6, "亿": 1e8}
_CURRENCY_BEFORE = re.compile(
    r"(US\$|U\$|NT\$|HK\$|USDT|USD|NTD|TWD|HKD|RMB|CNY|BTC|ETH|EUR|GBP|RUB|JPY|[¥￥$€£₽円]|台[币幣]|新台[币幣]|日[币幣元]|港[币幣元]"
    r"|人民[币幣]|美金|美元|欧元|英镑)[\s=:_]{0,2}\Z",
    re.I,
)
_CURRENCY_AFTER = re.compile(
    r"\s?(元|块|圆|人民币|软妹币|rmb|cny|usdt|usd|美元|美金|刀|btc|比特币|eth|以太坊|eur|欧元|€|gbp|英镑|£|rub|руб|卢布|₽"
    r"|twd|ntd|台币|台幣|新台币|hkd|港币|港幣|港元|jpy|日元|日币|日幣|円|\$|yuan|kuai|u)(?![a-z0-9])",
    re.I,
)
_CURRENCIES = {
    "元": "CNY", "块": "CNY", "圆": "CNY", "人民币": "CNY", "软妹币": "CNY", "rmb": "CNY", "cny": "CNY", "¥": "CNY",
    "￥": "CNY", "usdt": "USDT", "u": "USDT", "usd": "USD", "us$": "USD", "u$": "USD", "$": "USD", "美元": "USD",
    "美金": "USD", "刀": "USD", "btc": "BTC", "比特币": "BTC", "eth": "ETH", "以太坊": "ETH", "eur": "EUR", "€": "EUR",
    "欧元": "EUR", "gbp": "GBP", "£": "GBP", "英镑": "GBP", "rub": "RUB", "руб": "RUB", "卢布": "RUB", "₽": "RUB",
    "twd": "TWD", "ntd": "TWD", "nt$": "TWD", "台币": "TWD", "台幣": "TWD", "新台币": "TWD", "hkd": "HKD", "hk$": "HKD",
    "港币": "HKD", "港幣": "HKD", "港元": "HKD", "jpy": "JPY", "日元": "JPY", "円": "JPY", "日币": "JPY", "日幣": "JPY",
    "新台幣": "TWD", "人民幣": "CNY", "yuan": "CNY", "kuai": "CNY",
}  # fmt: skip
# In Chinese text an amount with no currency is a price in yuan when a unit price is written
# with it: "1.5/张", "0.8 一张", "单价 8", "一条20", "打包价 1800".
_UNIT_PRICE_AFTER = re.compile(r"\s?(?:/|每|一)\s?(?:张|套|组|份|个|条|次|人|位|部|段|月|年|天|周|台|单)")
_UNIT_PRICE_BEFORE = re.compile(
    r"(?:单价|售价|价格|价钱|报价|打包价|批发价|零售价|现价|特价|活动价|优惠价|团购价|定价|收费|价|一张|一套|一组|一份|一个|一条|一次|每张"
    r"|每套|每个|每条|每次|一个设备|每台|月卡|年卡|起|只要|仅需|才)\s?[:：]?\s?\Z"
)
_NOT_AN_AMOUNT_AFTER = re.compile(
    r"\s?(?:年|月份|日|号|点|时|分钟|秒|%|岁|cm|mm|kg|px|mb|kb|tb|楼|层|:\d|[.-]\d|/\d{2}|p(?![a-z]))", re.I
)
_PER_AFTER = (
    ("per_month", re.compile(r"\s?(?:/|每|一个?|per\s|a\s)\s?(?:月|mo\b|month)|\s?(?:包月|月卡)|\s?monthly", re.I)),
    (
        "per_item",
        re.compile(
            r"\s?(?:/|每|一|per\s|a\s|an\s)\s?(?:张|个|条|只|单|号|帐号|账号|pcs?\b|pieces?|photos?|pics?|"
            r"images?|selfies?|faces?|records?|rows?|accounts?|items?|units?)|\s?(?:each|ea\b|apiece)",
            re.I,
        ),
    ),
    (
        "per_set",
        re.compile(
            r"\s?(?:/|每|一|per\s|a\s)\s?(?:套|组|份|人|位|sets?|kits?|packs?|bundles?|persons?|people|heads?)", re.I
        ),
    ),
    (
        "per_other",
        re.compile(
            r"\s?(?:/|每|一|per\s|a\s)\s?(?:次|台|年|天|周|日|devices?|verifications?|weeks?|years?|days?|"
            r"hours?|licen[cs]es?|seats?|models?|clips?|videos?|gb\b|slots?|runs?)",
            re.I,
        ),
    ),
    (
        "per_lot",
        re.compile(
            r"\s?(?:打包|整批|全部|一起|for\s+(?:the\s+)?(?:whole\s+|entire\s+|full\s+)?lot|"
            r"for\s+(?:the\s+)?(?:whole|entire|all|full)|the\s+(?:whole\s+)?lot|"
            r"bulk|lot\b)",
            re.I,
        ),
    ),
)
_PER_BEFORE = (
    (
        "per_item",
        re.compile(
            r"(?:每张|一张|单张|每个|一个|每条|一条|单价|per\s+(?:photo|pic|image|piece)|each)\s?[:：]?\s?\Z", re.I
        ),
    ),
    (
        "per_set",
        re.compile(r"(?:每套|一套|每组|一组|每份|一份|每人|per\s+(?:set|kit|person|pack))\s?[:：]?\s?\Z", re.I),
    ),
    ("per_month", re.compile(r"(?:月卡|包月|每月|一个月|monthly|per\s+month)\s?[:：]?\s?\Z", re.I)),
    (
        "per_lot",
        re.compile(r"(?:打包价?|整批|全部|批发价|total|all\s+for|bundle\s+price|whole\s+lot)\s?[:：]?\s?\Z", re.I),
    ),
)
# Units of a count. English units are plural after a number above one ("40 photos"): a singular
# noun after a number names something else ("iPhone 14 Face ID", "3000 face capacity", "11 video
# lessons"). Chinese measure words (台 把 支 片 款 ...) count anything.
_QUANTITY_UNITS = (
    ("photo", r"张|張|zhang|人脸|人臉|photos|pics|pictures|images|imgs|selfies|faces|headshots|portraits|avatars"
     r"|jpe?gs?|pngs?"),
    ("set", r"套|组|組|tao|sets|kits|packs|bundles|fullz"),
    ("person", r"人|位|名|persons|people|ppl|identities|profiles|users|customers|members|clients|victims|subjects"
     r"|individuals|donors|models(?=\s(?:of|from))"),
    ("video", r"段|videos|clips|vids|mp4s?|movs?"),
    ("model", r"models|scans|meshes|masks"),
    ("record", r"条|條|records|rows|entries|lines|leads"),
    ("account", r"accounts"),
    ("GB", r"gb|(?-i:G)(?=\s?(?:数据|资料|素材|料|包|压缩|打包|data|dump))"),
    ("item", r"份|个|個|件|部|台|臺|把|支|片|款|只|隻|瓶|盒|箱|本|枚|颗|顆|pcs|pieces|units|items|numbers|keys"
     r"|codes|docs|documents|cards|bottles|boxes|tubes|jars|devices|licen[cs]es|files"),
)  # fmt: skip
_QUANTITY_AFTER = re.compile(
    r"\s?(?:\+\s?)?(?:多|余)?\s?(?:(?:[a-z][a-z-]{1,11}\s){0,2})(?:"
    + "|".join(f"(?P<{unit}>{pattern})" for unit, pattern in _QUANTITY_UNITS)
    + r")"
    r"(?![a-z])",
    re.I,
)
_STOCK_BEFORE = re.compile(
    r"(?:库存|庫存|剩余|剩餘|剩|还有|還有|现货|現貨|存货|现有|总共|總共|合计|in\s+stock|stock|available|qty|quantity|数量|數量"
    r"|total|holds|inventory)\s?[:：]?\s?\Z",
    re.I,
)
# A key that names what it counts: "records": 15300, video_blink=6200, selfies: 900.
_KEY_BEFORE = re.compile(
    r"(?<![\w])[\w]{0,12}(?:records|rows|selfie|photo|image|pic|video|clip|person|people|face|file|account)s?"
    r"(?:_[\w]{1,12})?[\"']?[:=]\s?\Z",
    re.I,
)
_REDUNDANT_CURRENCY = re.compile(r"\s?(?:人民[币幣]|rmb|cny)", re.I)
_STOCK_AFTER = re.compile(
    r"\s?(?:[a-z]{2,15}\s)?(?:in\s+stock|available|left|ready|remaining|on\s+hand|in\s+the\s+folder|现货|在库|库存)",
    re.I,
)
# "25 for £375", "500 = 2000$": a bundle and its price; the count is on offer.
_BUNDLE_AFTER = re.compile(r"\s?(?:[a-z]{2,12}\s)?(?:=|for)\s?(?:[$€£¥￥]|\d)", re.I)
_RANGE_BEFORE = re.compile(r"(\d{1,9})\s?[-~到至]\s?\Z")
_NOT_A_COUNT_BEFORE = re.compile(r"(?:[vV#@]|[A-Za-z_])\Z")
# Counts that are not what is on offer: a minimum order or a price tier (MOQ 20, 50+ sets: $19,
# 5000张以上), what one item holds (每人 3-5 张, each: ... 40 photos), what a buyer supplies
# (send 10 selfies, 导入 50 张), a device's capacity (可存3000张), samples and past deliveries.
_NOT_OFFERED_BEFORE = re.compile(
    r"(?:moq|min(?:imum)?(?:[_ ]?(?:qty|order))?|at\s+least|至少|满|超过|over|above|from|up\s+to|最多|可存|容纳|容納"
    r"|send|upload|give|导入|導入|提供|给我|給我|samples?|样品|樣品|样|樣|preview|预览|試|试看|看|抽|took|bought|vouch(?:ed)?"
    r"|fewer\s+than|less\s+than|under|below|不足|少于|少於|\bat|一天能?[做标標出]?|每天|每日|per\s+day|a\s+day"
    r"|box|carton|case|pack|一盒|一箱|每盒|每箱|一包|一袋"
    r"|每人|每套|每个|每份|每段|一人|单人|per\s+(?:person|set|pack|kit|id|model|folder|subject))"
    r"[\s:：=~(]{0,3}\Z",
    re.I,
)
_ITEM_CONTENTS_BEFORE = re.compile(
    r"(?:\beach|\bevery|\bper\s+[a-z]+|每人|每套|每个|一人一)\s?[:：][^\n]{0,40}\Z", re.I
)
_NOT_OFFERED_AFTER = re.compile(
    r"\s?(?:以上|起(?!来|來)|容量|capacity|delivered|verified|sold|done|成交|已出|free\s+samples?|samples?|/\s?人|per\s+person"
    r"|每人|给你看|給你看|preview|for\s+free|/\s?天|per\s+day|a\s+day|装|裝|一盒|/盒|一箱|per\s+(?:box|carton|pack))",
    re.I,
)
_TIER_AFTER = re.compile(r"\s?\+?\s?(?:[a-z]{2,12}\s?)?(?:[:：=]|→|->)\s?(?:[$€£¥￥]|\d)", re.I)
_YEAR = re.compile(r"(?:19[89]\d|20[0-3]\d)\Z")
_RAM = re.compile(r"\s?(?:\+|显存|顯存|vram|ram|内存|內存|storage|存储|ssd|硬盘|disk)", re.I)


@dataclass(frozen=True)
class _Number:
    start: int
    end: int  # after its magnitude (and a "+"), if it has one
    value: float


def _numbers(text: str) -> list[_Number]:
    out = []
    for m in _NUMBER.finditer(text):
        whole = m.group(1).replace(",", "")
        value = float(f"{whole}.{m.group(2)}") if m.group(2) else float(whole)
        end = m.end()
        magnitude = _MAGNITUDE.match(text, end, end + 9)
        if magnitude:
            value *= _MAGNITUDES[magnitude.group(1).lower()]
            end = magnitude.end()
            if text[end : end + 1] == "+":
                end += 1
        out.append(_Number(m.start(), end, value))
    return out


def _per(text: str, end: int, before: str) -> str:
    for per, pattern in _PER_AFTER:
        if pattern.match(text, end, end + 24):
            return per
    for per, pattern in _PER_BEFORE:
        if pattern.search(before):
            return per
    return "total"


def _unit(text: str, end: int) -> str:
    unit = _QUANTITY_AFTER.match(text, end, end + 40)
    return next((u for u, _ in _QUANTITY_UNITS if unit is not None and unit.group(u)), "item")


def _mostly_chinese(text: str) -> bool:
    return sum(1 for ch in text[:4000] if "\u4e00" <= ch <= "\u9fff") >= 2


# Amounts written in Chinese numerals: 五毛 (0.5), 两块五 (2.5), 三百元 (300), 一千二百块 (1200).
_CN_AMOUNT = re.compile(
    r"(?<![零一二两三四五六七八九十百千万])([零一二两三四五六七八九十百千万]{1,8})(块钱?|元|毛|角)(?:(?<=块)([一二两三四五六七八九])(?![张套组份个条次人位]))?"
)
_CN_VALUE = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def _chinese_number(text: str) -> float | None:
    """一千二百 = 1200, 三十五 = 35, 十二 = 12, 一千二 = 1200 (a trailing digit is of the next lower unit)."""
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in text:
        if ch in _CN_VALUE:
            digit = _CN_VALUE[ch]
        elif ch in _CN_UNIT:
            unit = _CN_UNIT[ch]
            if unit == 10000:
                total, section = (total + section + (digit or 0)) * unit, 0
            else:
                section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    value = total + section
    return float(value) if value else None


def _chinese_prices(text: str) -> list[Price]:
    out = []
    for m in _CN_AMOUNT.finditer(text):
        value = _chinese_number(m.group(1))
        if value is None:
            continue
        unit = m.group(2)
        if unit in ("毛", "角"):
            value /= 10
        elif m.group(3):  # 两块五: five jiao after the yuan
            value += _CN_VALUE[m.group(3)] / 10
        before = text[max(0, m.start() - WINDOW) : m.start()]
        out.append(Price(round(value, 2), "CNY", _per(text, m.end(), before)))
    return out


def _quantity(text: str, n: _Number, before: str) -> Quantity | None:
    """The count a number is, if it is a count of something on offer."""
    unit = _QUANTITY_AFTER.match(text, n.end, n.end + 40)
    end = unit.end() if unit else n.end
    stock_after = _STOCK_AFTER.match(text, n.end, n.end + 24)
    bundle = unit is None and _BUNDLE_AFTER.match(text, n.end, n.end + 20)
    if unit is None and not stock_after and not bundle:
        return None
    if unit is None and _NOT_AN_AMOUNT_AFTER.match(text, n.end, n.end + 6):
        return None
    line = text[max(0, text.rfind("\n", 0, n.start) + 1, n.start - 60) : n.start]
    before = before[before.rfind("\n") + 1 :]  # what the line before says is about something else
    if _NOT_OFFERED_BEFORE.search(before) or _NOT_OFFERED_AFTER.match(text, end, end + 16):
        return None
    if not stock_after and _ITEM_CONTENTS_BEFORE.search(line):
        return None
    if text[n.end - 1 : n.end] == "+" or text[n.end : n.end + 1] == "+":
        if _TIER_AFTER.match(text, end, end + 16):
            return None  # "50+ sets: $19 each"
    name = _unit(text, n.end)
    if name == "GB" and _RAM.match(text, end, end + 6):
        return None  # "8GB+", "6G 显存": what a tool needs
    chinese_unit = "\u4e00" <= text[n.end : n.end + 1] <= "\u9fff"
    if not stock_after and _YEAR.fullmatch(text[n.start : n.end]) and not chinese_unit:
        return None  # "2024 models"
    value = n.value
    low = _RANGE_BEFORE.search(before)
    range_start = n.start - len(before) + low.start() if low else 0
    if low and _NOT_OFFERED_BEFORE.search(text, max(0, range_start - WINDOW), range_start):
        return None  # "upload 8-15 selfies", "每人 30-50 张"
    if low and unit is not None and float(low.group(1)) < value:
        if _TIER_AFTER.match(text, end, end + 16):
            return None  # "10-49 sets: $28/set"
        value = (float(low.group(1)) + value) / 2  # 300-500张: the middle of the range
    # A handful ("3 videos", "2 selfies") describes what one item holds, not how many are on
    # offer; sizes in GB are small numbers.
    if value >= MIN_COUNT or (name == "GB" and value >= 1):
        return Quantity(round(value, 3), name)
    return None


_CELL_SPLIT = re.compile(r"\s*\|\s*")
_STOCK_HEADER = re.compile(
    r"(?:stock|qty|quantity|count|available|avail|in\s+stock|库存|庫存|数量|數量|现货|余量|剩余)\Z", re.I
)
_CELL_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d{1,12})\s?(?:\+|pcs|sets|张|套)?\Z", re.I)


def _table_quantities(text: str) -> list[Quantity]:
    """Counts in the stock column of a table drawn with pipes (| type | stock | price |)."""
    out: list[Quantity] = []
    column, width = -1, 0
    for line in text[:MAX_TEXT].splitlines():
        if line.count("|") < 2:
            if not set(line.strip()) <= set("+-=:| "):
                column = -1  # the table ended
            continue
        cells = _CELL_SPLIT.split(line.strip().strip("|"))
        header = [i for i, cell in enumerate(cells) if _STOCK_HEADER.match(cell)]
        if header:
            column, width = header[0], len(cells)
        elif column >= 0 and len(cells) == width:
            m = _CELL_NUMBER.match(cells[column])
            if m and (value := float(m.group(1).replace(",", ""))) >= 10:
                out.append(Quantity(value, "item"))
    return out


def prices_and_quantities(text: str) -> tuple[list[Price], list[Quantity]]:
    """Every price and quantity in (normalised) text, in order, without repeats."""
    prices: list[Price] = []
    quantities: list[Quantity] = []
    chinese = _mostly_chinese(text)
    for n in _numbers(text):
        before = text[max(0, n.start - WINDOW) : n.start]
        currency_before = _CURRENCY_BEFORE.search(before)
        if not currency_before and _NOT_A_COUNT_BEFORE.search(before):
            continue  # v2.3, #12, part of a handle or an id
        counted = not currency_before and (_STOCK_BEFORE.search(before) or _KEY_BEFORE.search(before))
        if counted and not _CURRENCY_AFTER.match(text, n.end, n.end + 12):
            if not _NOT_OFFERED_BEFORE.search(before) and not _NOT_AN_AMOUNT_AFTER.match(text, n.end, n.end + 6):
                quantities.append(Quantity(round(n.value, 3), _unit(text, n.end)))
            continue  # 库存: 3200, "records": 15300
        currency, end = None, n.end
        if currency_before:
            currency = _CURRENCIES.get(currency_before.group(1).lower())
        else:
            after = _CURRENCY_AFTER.match(text, n.end, n.end + 12)
            if after:
                currency, end = _CURRENCIES.get(after.group(1).lower()), after.end()
                redundant = _REDUNDANT_CURRENCY.match(text, end, end + 6)  # 80元人民币一套
                end = redundant.end() if redundant else end
            elif chinese and not _NOT_AN_AMOUNT_AFTER.match(text, n.end, n.end + 6):
                unit_after = _UNIT_PRICE_AFTER.match(text, n.end, n.end + 6)
                if unit_after or (
                    _UNIT_PRICE_BEFORE.search(before) and not _QUANTITY_AFTER.match(text, n.end, n.end + 8)
                ):
                    currency = "CNY"
        if currency is not None:
            plain_before = before[: currency_before.start()] if currency_before else before  # "每套 ¥35"
            prices.append(Price(round(n.value, 8), currency, _per(text, end, plain_before)))
            continue
        quantity = _quantity(text, n, before)
        if quantity is not None:
            quantities.append(quantity)
    quantities += _table_quantities(text)
    if _mostly_chinese(text):
        prices += _chinese_prices(text)
    return _unique(prices), _unique(quantities)


# --- contacts -----------------------------------------------------------------------------------

# Between a label and its value: "号", "ID", "同号", a heart or a star, a colon.
_SEP = r"[❤♥💚💙💬✨⭐*·•]{0,2}\s{0,3}(?:同号|号码?|ID|id|账号|帳號|是)?\s{0,2}[:：=]?\s{0,3}"
_DIGITS = r"(\+?\d[\d\s\-./]{3,30}\d)"  # spaced out, dashed or slashed to dodge filters: "551 / 903 / 277"
_QQ_GROUP = re.compile(r"(?:qq\s?_?群|q\s?群|扣扣群|企鹅群|qq[\s_]?group|群号|群)" + _SEP + _DIGITS, re.I)
_QQ = re.compile(
    r"(?<![a-z])(?:qq|扣扣|企鹅|蔻蔻|k\s?o\s?u\s?k\s?o\s?u|kou)(?!\s?群|[\s_]?group)" + _SEP + _DIGITS, re.I
)
# A bare "Q" (or 扣) is a QQ label only with a separator after it and a long number: "Q：3316650972",
# not "Q1 2024".
_Q = re.compile(r"(?<![a-z0-9])(?:q|扣)(?:\s{1,3}|\s{0,2}[:：]\s{0,3})(\d[\d\s\-./]{4,30}\d)(?![\d])", re.I)
_WECHAT_LABEL = r"(?:微信|微x|威信|薇信|维信|v\s?信|vx|wx|weixin|wechat|we\s?chat|薇|卫星|绿泡泡|vxin|v\s?x|加微|微号)"
# "微信也可以: x", "微信号码是 x": a few words between a label and its colon.
_WORDS = r"(?:[\u4e00-\u9fff]{1,5}[:：]\s{0,3})?"
# A value as written, perhaps in pieces with an instruction after it: "yyliao 88（中间没空格）".
_VALUE = r"([a-zA-Z][a-zA-Z0-9_\-丶·•]{0,24}(?:[ \t]{1,2}[a-zA-Z0-9_\-丶·•〇零一二三四五六七八九]{1,12}){0,12})"
_WECHAT = re.compile(r"(?<![a-z])" + _WECHAT_LABEL + _WORDS + _SEP + _VALUE + r"([^\n]{0,30})", re.I)
_V = re.compile(r"(?<![a-z0-9])v[❤♥💚]{0,2}\s{0,2}[:：]\s{0,3}" + _VALUE + r"([^\n]{0,30})", re.I)  # "V: vcam_688"
_WECHAT_PHONE = re.compile(r"(?<![a-z])" + _WECHAT_LABEL + _SEP + r"(1[3-9]\d(?:[\s\-]?\d){8})(?!\d)", re.I)
_TELEGRAM_LABEL = r"(?<![a-z])(?:telegram|tg|飞机|纸飞机|电报|電報|✈️|✈|tele)"
_TELEGRAM = re.compile(
    _TELEGRAM_LABEL + r"\s{0,2}(?:号|ID|id)?\s{0,2}(?:[:：=]\s{0,3}@?|@|\s{1,3}(?=[a-z][a-z0-9_\-]*[\d_]|[^\n]{0,40}"
    r"(?:空格|换|数字|符号)))\s{0,2}" + _VALUE + r"([^\n]{0,30})",
    re.I,
)
_TME = re.compile(r"(?<![a-z0-9])(?:https?://)?(?:t|telegram)\.me/(?:s/)?([a-z][a-z0-9_]{3,31})(?![a-z0-9_])", re.I)
_HANDLE = re.compile(r"(?<![A-Za-z0-9_@.])@([a-z][a-z0-9_]{3,31})(?![A-Za-z0-9_@.])", re.I)
# Words after which a bare @handle is someone to write to (on Telegram, in this trade).
_CONTACT_CUE = re.compile(
    r"(?:pm|dm|contact|support|ping|hit|msg|message|order|buy|write|reach|admin|私|联系|找|加|咨询|客服|下单|私聊|询|问|订|买|购"
    r"|only)[^\n]{0,12}\Z",
    re.I,
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+-])([a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,4})(?![A-Za-z0-9_-])",
    re.I,
)
_XMPP_LABEL = re.compile(r"(?:xmpp|jabber|jid|omemo)\s{0,2}[:：/]?\s{0,3}\Z", re.I)
# Public XMPP servers that people write an address on without saying it is one.
XMPP_DOMAINS = frozenset({
    "jabber.ru", "xmpp.jp", "exploit.im", "xmpp.is", "jabber.de", "jabb.im", "jabber.calyxinstitute.org",
    "creep.im", "404.city", "yax.im", "jabber.cz", "jabber.org", "jabber.at", "xmpp.earth", "conversations.im",
    "jabbers.one", "draugr.de", "blabber.im", "jabber.fr", "thesecure.biz", "jabber.hot-chilli.net", "xmpp.cz",
    "jabber.sk", "lightwitch.org", "jabber.zone", "chatterboxtown.us", "5222.de", "jabber.systems",
})  # fmt: skip
_PHONE_LABEL = re.compile(
    r"(?:电话|電話|手机|手機|联系电话|tel|phone|mobile|cell|whatsapp|call|sms|signal|座机|热线|hotline|booking|预约|咨询)"
    r"[^\n\d]{0,6}\Z",
    re.I,
)
_PHONE = re.compile(
    r"(?<![A-Za-z0-9_])(\+?\d{1,3}[\s\-.]?)?(\(?\d{2,4}\)?[\s\-.]?\d{3,4}(?:[\s\-.]?\d{3,5})?)(?![A-Za-z0-9_])"
)
_CN_MOBILE = re.compile(r"(?<![A-Za-z0-9_])((?:\+?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8})(?![A-Za-z0-9_])")
_CN_LANDLINE = re.compile(r"(?<![A-Za-z0-9_])(0\d{2,3}[\s\-]\d{3,4}[\s\-]?\d{4})(?![A-Za-z0-9_])")
_LINE = re.compile(
    r"(?<![a-z])(?:line\s?id|line|加賴|加赖|賴|赖)\s{0,2}[:：]?\s{0,3}@?([a-z0-9][a-z0-9._\-]{3,24})", re.I
)
_TOX = re.compile(r"(?<![0-9a-f])([0-9a-f]{76})(?![0-9a-f])", re.I)
_SESSION = re.compile(r"(?<![0-9a-f])(05[0-9a-f]{64})(?![0-9a-f])", re.I)
# Instructions a writer adds so a reader, not a filter, can put the id together.
_JOIN = re.compile(r"空格|连起来|连在一起|no\s+spaces?|remove\s+(?:the\s+)?spaces?|without\s+spaces?", re.I)
_STRIP_SYMBOLS = re.compile(r"符号|symbols?", re.I)
_DIGITS_BACK = re.compile(r"数字|汉字|大写|numbers?|digits?", re.I)
_REPLACE = re.compile(
    r"([-_.#*+~丶·•])\s{0,2}(?:换成|改成|换为|改为|替换成|变成|->|=>|→|replaced?\s+(?:by|with)|to)\s{0,2}([-_.a-z0-9])",
    re.I,
)
_TELEGRAM_WORDS = re.compile(r"telegram|电报|飞机|tg\b|t\.me", re.I)
_OTHER_NETWORKS = re.compile(
    r"(?:twitter|推特|instagram|ig|ins|weibo|微博|tiktok|抖音|x\.com|github|reddit|discord)\W{0,3}\Z", re.I
)
_RESERVED_HANDLES = frozenset({"everyone", "here", "admin", "channel", "all", "gmail", "proton", "mail", "only"})


def _digits(raw: str) -> str:
    return re.sub(r"\D", "", raw)


def _clean_value(value: str, rest: str) -> str:
    """An id as the writer meant it: "yyliao 88（中间没空格）" is yyliao88, "lz-kf2024（-换成_）"
    lz_kf2024, "Momo丶2688（去掉符号）" momo2688, "qiu 二 八 八（数字自己换）" qiu288."""
    value = value.strip()
    if _DIGITS_BACK.search(rest) or _JOIN.search(rest):
        value = value.translate(_CN_TABLE)
    if " " in value or "\t" in value:
        first, *more = value.split()
        spelled = all(len(t) == 1 or (t.isdigit() and len(t) <= 3) for t in more)  # "Lily 0 5 2 1"
        value = "".join([first, *more]) if spelled or _JOIN.search(rest) or _DIGITS_BACK.search(rest) else first
    replace = _REPLACE.search(rest)
    if replace:
        value = value.replace(replace.group(1), replace.group(2))
    if _STRIP_SYMBOLS.search(rest) or any(ch in value for ch in "丶·•"):
        value = re.sub(r"[丶·•]", "", value)
    return value.lower().strip("-_.")


def contacts_of(text: str, *, channel: str = "") -> list[Contact]:
    """Every seller contact in (normalised) text. `channel` "telegram": a bare @handle is a
    Telegram handle (it is one in a channel post; elsewhere when the text says Telegram, or
    when it follows words such as PM, DM, contact, 联系, 私)."""
    found: dict[tuple[str, str], Contact] = {}

    def add(kind: str, value: str) -> None:
        if value:
            found.setdefault((kind, value), Contact(kind, value))

    group_spans: list[tuple[int, int]] = []
    for m in _QQ_GROUP.finditer(text):
        digits = _digits(m.group(1))
        if 5 <= len(digits) <= 12:
            add("qq_group", digits)
            group_spans.append(m.span())
    for pattern, shortest in ((_QQ, 5), (_Q, 6)):
        for m in pattern.finditer(text):
            digits = _digits(m.group(1))
            if shortest <= len(digits) <= 11 and not any(a <= m.start() < b for a, b in group_spans):
                add("qq", digits)
    wechat_spans: list[tuple[int, int]] = []
    for m in _WECHAT_PHONE.finditer(text):
        add("wechat", _digits(m.group(1)))
        wechat_spans.append(m.span())
    for m in _WECHAT.finditer(text):
        if not any(a <= m.start() < b for a, b in wechat_spans):
            value = _clean_value(m.group(1), m.group(2))
            if len(value) >= 5:
                add("wechat", value)
    for m in _V.finditer(text):
        value = _clean_value(m.group(1), m.group(2))
        if len(value) >= 5:
            add("wechat", value)
    for m in _TELEGRAM.finditer(text):
        value = _clean_value(m.group(1), m.group(2))
        if len(value) >= 4 and value not in _RESERVED_HANDLES:
            add("telegram", value)
    for m in _TME.finditer(text):
        add("telegram", m.group(1).lower())
    emails: list[tuple[int, int]] = []
    for m in _EMAIL.finditer(text):
        address = m.group(1).lower().rstrip(".")
        domain = address.rsplit("@", 1)[1]
        xmpp = bool(_XMPP_LABEL.search(text[max(0, m.start() - 12) : m.start()])) or domain in XMPP_DOMAINS
        add("xmpp" if xmpp or domain.startswith(("xmpp.", "jabber.")) else "email", address)
        emails.append(m.span())
    telegram_text = channel == "telegram" or bool(_TELEGRAM_WORDS.search(text))
    for m in _HANDLE.finditer(text):
        handle = m.group(1).lower()
        before = text[max(0, m.start() - 24) : m.start()]
        if handle in _RESERVED_HANDLES or any(a <= m.start() < b for a, b in emails) or _OTHER_NETWORKS.search(before):
            continue
        if telegram_text or _CONTACT_CUE.search(before) or re.search(r"[\d_]", handle):
            add("telegram", handle)
    for pattern in (_CN_MOBILE, _CN_LANDLINE):
        for m in pattern.finditer(text):
            add("phone", _digits(m.group(1)))
    for m in _PHONE.finditer(text):
        if _PHONE_LABEL.search(text[max(0, m.start() - 16) : m.start()]):
            digits = _digits(m.group(0))
            if 7 <= len(digits) <= 15:
                add("phone", digits)
    for m in _LINE.finditer(text):
        add("line", m.group(1).lower())
    for m in _TOX.finditer(text):
        add("tox", m.group(1).lower())
    for m in _SESSION.finditer(text):
        add("session", m.group(1).lower())
    # A number written as someone's QQ that also looked like a phone number is the QQ.
    qq_numbers = {c.value for c in found.values() if c.kind in ("qq", "qq_group")}
    return [c for c in found.values() if not (c.kind == "phone" and c.value in qq_numbers)]


@dataclass(frozen=True)
class Entities:
    prices: tuple[Price, ...]
    quantities: tuple[Quantity, ...]
    contacts: tuple[Contact, ...]

    @property
    def quantity(self) -> int | None:
        """The largest count on offer (what a listing's search filter and summary show)."""
        return int(max(q.value for q in self.quantities)) if self.quantities else None


def extract_entities(text: str, *, channel: str = "") -> Entities:
    normal = normalise(text)
    prices, quantities = prices_and_quantities(normal)
    return Entities(tuple(prices), tuple(quantities), tuple(contacts_of(normal, channel=channel)))
