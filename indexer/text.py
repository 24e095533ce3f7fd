"""Search text that both stores index identically, without any server-side analyzer.

Latin text is split into lower-case words; runs of CJK characters become overlapping bigrams
(人脸数据 -> 人脸 脸数 数据), so a two-character Chinese word is found inside longer text.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"([\u3400-\u9fff\uf900-\ufaff]+)|([^\W_]+)", re.UNICODE)


def terms(text: str) -> list[str]:
    out: list[str] = []
    if not text.isascii():  # full-width letters and digits, compatibility ideographs
        text = unicodedata.normalize("NFKC", text)
    for cjk, word in _TOKEN.findall(text.lower()):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out += map(str.__add__, cjk, cjk[1:])
    return out


def search_text(*fields: str) -> str:
    return " ".join(t for f in fields for t in terms(f))
