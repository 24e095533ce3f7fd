"""Search text that both stores index identically, without any server-side analyzer.

Latin text is split into lower-case words; runs of CJK characters become overlapping bigrams
(人脸数据 -> 人脸 脸数 数据), so a two-character Chinese word is found inside longer text.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def terms(text: str) -> list[str]:
    out: list[str] = []
    for run in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        if _CJK.match(run):
            out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        else:
            out.append(run)
    return out


def search_text(*fields: str) -> str:
    return " ".join(t for f in fields for t in terms(f))
