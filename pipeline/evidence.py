"""Hand-written evidence about a listing: what is offered, how it is offered, what it is for.

Each family is a list of terms (Chinese simplified and traditional, English, pinyin shorthand),
matched on squeezed text (NFKC, lower case, traditional characters simplified, separators
dropped) so "人-脸 数.据" and "l i v e n e s s" still hit. The families are features of the
classifier (pipeline/classify.py), which learns how much each weighs; the terms found are the
listing's evidence, shown to the analyst.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pipeline.entities import Entities


def _traditional_to_simplified() -> dict[int, str]:
    """OpenCC's character table, traditional -> simplified (its first reading of each), so Big5
    listings from Taiwan and Hong Kong read like mainland ones. One str.translate per text."""
    from importlib import resources

    table: dict[int, str] = {}
    text = resources.files("opencc").joinpath("dictionary", "TSCharacters.txt").read_text("utf-8")
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ")[0] if targets else ""
        if len(source) == 1 and len(target) == 1 and source != target:
            table[ord(source)] = target
    return table


_TRADITIONAL = _traditional_to_simplified()


_NOT_ALNUM = re.compile(r"[\W_]+")


def _squeezed(lowered: str) -> str:
    return _NOT_ALNUM.sub("", lowered.translate(_TRADITIONAL))


def squeeze(text: str) -> str:
    """NFKC, lower case, traditional characters simplified, only letters and digits kept."""
    return _squeezed(unicodedata.normalize("NFKC", text).lower())


# family -> terms. Families say one thing each; the model weighs them.
FAMILIES: dict[str, tuple[str, ...]] = {
    # --- what is offered ----------------------------------------------------------------------------
    "face_photos": (
        "人脸",
        "人像",
        "脸照",
        "正脸",
        "侧脸",
        "大头照",
        "大头",
        "半身照",
        "半身",
        "全身照",
        "生活照",
        "自拍",
        "素颜",
        "露脸",
        "头像照",
        "真人照",
        "实拍",
        "底图",
        "人脸照片",
        "人脸图片",
        "脸部照片",
        "证件照底图",
        "rl",
        "zp",
        "lian",
        "face photo",
        "face pics",
        "face images",
        "face pack",
        "faces",
        "headshots",
        "selfies",
        "selfie",
        "portraits",
        "frontal",
        "face data",
        "face dataset",
        "facial images",
        "face scans",
        "mugshots",
    ),
    "id_documents": (
        "身份证",
        "身分证",
        "二代证",
        "一代证",
        "护照",
        "驾照",
        "驾驶证",
        "港澳通行证",
        "回乡证",
        "居留证",
        "健保卡",
        "户口本",
        "手持",
        "手持证件",
        "四件套",
        "五件套",
        "三件套",
        "证件",
        "sfz",
        "passport",
        "national id",
        "id card",
        "drivers license",
        "driver license",
        "dl",
        "hkid",
        "id front",
        "id back",
        "holding id",
        "selfie with id",
        "id selfie",
        "id+selfie",
        "kyc pack",
        "kyc kit",
        "kyc set",
        "fullz",
        "doc pack",
        "document pack",
        "utility bill",
    ),
    "liveness_media": (
        "活体视频",
        "眨眼",
        "摇头",
        "点头",
        "张嘴",
        "动作视频",
        "视频素材",
        "活体素材",
        "人脸视频",
        "liveness video",
        "liveness clip",
        "blink",
        "head turn",
        "nod",
        "video pack",
        "selfie video",
        "video selfie",
    ),
    "face_models": (
        "3d人脸",
        "3d头模",
        "头模",
        "人脸模型",
        "硅胶面具",
        "面具",
        "3d model",
        "head scan",
        "3d scan",
        "silicone mask",
        "mask",
    ),
    "databases": (
        "数据库",
        "人脸库",
        "裤子",
        "料子",
        "老料",
        "新料",
        "鲜料",
        "料",
        "泄露",
        "拖库",
        "社工库",
        "记录",
        "条数据",
        "database",
        "dump",
        "leak",
        "leaked",
        "breach",
        "records",
        "rows",
        "csv",
        "sql",
        "combo",
        "db",
    ),
    "verified_accounts": (
        "实名号",
        "实名账号",
        "认证号",
        "已实名",
        "成品号",
        "verified account",
        "kyc account",
        "aged account",
    ),
    # --- how it is offered --------------------------------------------------------------------------
    "selling": (
        "出售",
        "售",
        "出",
        "卖",
        "甩",
        "清仓",
        "走量",
        "批发",
        "零售",
        "现货",
        "有货",
        "到货",
        "补货",
        "上新",
        "新到",
        "收",
        "求购",
        "代理",
        "招代理",
        "下单",
        "拍下",
        "自动发货",
        "发卡",
        "卡密",
        "秒发",
        "库存",
        "包邮",
        "价格私聊",
        "量大优惠",
        "wts",
        "wtb",
        "selling",
        "for sale",
        "vendor",
        "restock",
        "fresh",
        "in stock",
        "bulk",
        "wholesale",
        "instant delivery",
        "auto delivery",
        "autobuy",
        "escrow",
        "vouch",
        "dm me",
        "pm me",
        "price list",
    ),
    "samples": (
        "样品",
        "样本",
        "看样",
        "先看样",
        "试用",
        "打码",
        "sample",
        "samples",
        "proof",
        "proofs",
        "preview",
        "watermark",
    ),
    # --- what it is for -----------------------------------------------------------------------------
    "bypass": (
        "过人脸",
        "过脸",
        "过活体",
        "绕过",
        "绕开",
        "过检",
        "过验证",
        "过审",
        "过认证",
        "代过",
        "代刷",
        "代实名",
        "代认证",
        "解封",
        "刷脸",
        "秒过",
        "包过",
        "bypass",
        "bypassing",
        "pass kyc",
        "pass verification",
        "beat liveness",
        "defeat",
        "spoof",
        "spoofing",
        "fool",
        "circumvent",
        "get past",
        "we pass",
        "kyc service",
        "verification service",
    ),
    "verification_targets": (
        "活体检测",
        "活体",
        "人脸识别",
        "人脸认证",
        "实名认证",
        "刷脸",
        "认证",
        "风控",
        "kyc",
        "liveness",
        "face verification",
        "face check",
        "selfie check",
        "identity verification",
        "onboarding",
        "face id",
        "facial recognition",
    ),
    "injection_tools": (
        "虚拟摄像头",
        "虚拟相机",
        "替换摄像头",
        "替换画面",
        "摄像头注入",
        "注入",
        "劫持",
        "hook",
        "钩子",
        "框架",
        "xposed",
        "lsposed",
        "frida",
        "magisk",
        "root",
        "免root",
        "越狱",
        "jailbreak",
        "rootless",
        "tweak",
        "插件",
        "补丁",
        "破解",
        "破解版",
        "修改版",
        "改包",
        "重打包",
        "so库",
        "sdk",
        "apk",
        "ipa",
        "deb",
        "v4l2",
        "obs",
        "virtual camera",
        "virtual cam",
        "vcam",
        "camera injection",
        "inject",
        "injection",
        "feed replace",
        "replace camera",
        "getusermedia",
        "emulator",
        "patched",
        "cracked",
        "crack",
        "mod apk",
        "modded",
        "repack",
        "plugin",
        "module",
        "script",
        "bot",
        "tool",
        "software",
        "软件",
        "工具",
        "脚本",
    ),
    "face_swap": (
        "换脸",
        "ai换脸",
        "实时换脸",
        "深度伪造",
        "照片活化",
        "照片动起来",
        "让照片动",
        "活化",
        "deepfake",
        "deep fake",
        "face swap",
        "faceswap",
        "swap face",
        "animate photo",
        "photo animation",
        "photo to video",
        "talking head",
        "reenactment",
        "liveportrait",
        "deepfacelive",
        "avatarify",
    ),
    # --- how it is taught ---------------------------------------------------------------------------
    "teaching": (
        "教程",
        "教学",
        "教你",
        "手把手",
        "步骤",
        "详细步骤",
        "课程",
        "网课",
        "课",
        "带教",
        "包教包会",
        "学员",
        "原理",
        "科普",
        "思路",
        "方法",
        "心得",
        "经验",
        "笔记",
        "攻略",
        "指南",
        "入门",
        "新手",
        "视频讲解",
        "图文",
        "讲解",
        "分享",
        "干货",
        "tutorial",
        "guide",
        "how to",
        "howto",
        "step by step",
        "step-by-step",
        "walkthrough",
        "course",
        "lesson",
        "masterclass",
        "method",
        "explained",
        "notes",
        "writeup",
        "write-up",
        "learn",
        "teach",
        "training",
        "ebook",
        "pdf guide",
        "mentorship",
        "101",
        "basics",
        "primer",
    ),
    # --- benign context ------------------------------------------------------------------------------
    "cosmetics": (
        "面霜",
        "面膜",
        "洗面奶",
        "护肤",
        "补水",
        "美白",
        "精华",
        "化妆",
        "彩妆",
        "美容",
        "敏感肌",
        "face cream",
        "face wash",
        "moisturizer",
        "skincare",
        "skin care",
        "serum",
        "sheet mask",
        "facial",
        "cleanser",
    ),
    "photography": (
        "摄影",
        "写真",
        "证件照",
        "婚纱",
        "修图",
        "影楼",
        "相机",
        "镜头",
        "photography",
        "photographer",
        "photo studio",
        "headshot session",
        "portrait session",
        "lens",
        "camera gear",
        "tripod",
    ),
    "research": (
        "论文",
        "学术",
        "研究",
        "课题",
        "实验室",
        "数据集",
        "毕业设计",
        "开源",
        "github",
        "paper",
        "research",
        "university",
        "conference",
        "arxiv",
        "survey",
        "benchmark",
        "dataset",
        "study",
        "thesis",
        "consent",
        "participants",
        "ethics",
        "open source",
    ),
    "news_warning": (
        "警方",
        "破获",
        "通报",
        "案件",
        "被抓",
        "判刑",
        "报道",
        "新闻",
        "曝光",
        "骗子",
        "诈骗",
        "防骗",
        "警惕",
        "别上当",
        "举报",
        "news",
        "arrested",
        "police",
        "reported",
        "breach notification",
        "scam",
        "scammer",
        "warning",
        "psa",
        "beware",
        "ripper",
        "fraud alert",
        "exposed",
    ),
    "vendor_compliance": (
        "合规",
        "反欺诈",
        "解决方案",
        "企业版",
        "招商",
        "正版",
        "官方",
        "saas",
        "compliance",
        "aml",
        "anti-fraud",
        "anti-spoofing",
        "detects",
        "detect virtual",
        "our sdk",
        "solution",
        "enterprise",
        "free trial",
        "demo request",
        "kyc provider",
        "consulting",
    ),
    "support_help": (
        "求助",
        "请问",
        "怎么办",
        "坏了",
        "维修",
        "不能用",
        "失灵",
        "help",
        "not working",
        "stopped working",
        "broken",
        "repair",
        "fix",
        "issue",
        "question",
    ),
    "jobs": (
        "招聘",
        "兼职",
        "标注",
        "招人",
        "日结",
        "hiring",
        "job",
        "remote work",
        "annotation",
        "labeling",
        "labelling",
        "data entry",
        "per task",
        "salary",
    ),
    "rules_notice": (
        "版规",
        "公告",
        "规则",
        "须知",
        "置顶",
        "发帖规范",
        "升级",
        "维护",
        "rules",
        "announcement",
        "notice",
        "read before posting",
        "sticky",
        "forum update",
        "maintenance",
        "posting template",
    ),
    "ordinary_goods": (
        "螃蟹",
        "大闸蟹",
        "海鲜",
        "茶叶",
        "水果",
        "零食",
        "门禁",
        "考勤机",
        "智能锁",
        "门锁",
        "自拍杆",
        "三脚架",
        "手机壳",
        "crab",
        "tea",
        "door lock",
        "smart lock",
        "attendance",
        "vpn",
        "gift card",
        "hosting",
    ),
}

# Short Latin terms ("dl", "db", "rl") would hit inside words once squeezed: they must stand alone.
_SHORT = re.compile(r"^[a-z0-9]{1,3}$")
# family -> (term, squeezed term, whether it must be a whole word)
_SQUEEZED: dict[str, tuple[tuple[str, str, bool], ...]] = {
    family: tuple((term, squeeze(term), bool(_SHORT.match(squeeze(term)))) for term in terms if squeeze(term))
    for family, terms in FAMILIES.items()
}
EVIDENCE_CHARS = 6000  # of a listing's text searched for evidence


def _automaton() -> Any:
    """Every squeezed term that may stand inside a word, in one Aho-Corasick automaton: one pass
    over the text finds them all (a substring test per term cost 700 passes)."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for family, pairs in _SQUEEZED.items():
        for term, key, short in pairs:
            if not short:
                entries = automaton.get(key, [])
                automaton.add_word(key, [*entries, (family, term)])
    automaton.make_automaton()
    return automaton


_AUTOMATON = _automaton()
_SHORT_TERMS: dict[str, list[tuple[str, str]]] = {}
for _family, _pairs in _SQUEEZED.items():
    for _term, _key, _short in _pairs:
        if _short:
            _SHORT_TERMS.setdefault(_key, []).append((_family, _term))


@dataclass(frozen=True)
class Evidence:
    families: dict[str, int]  # family -> terms of it found
    terms: tuple[str, ...]  # the terms found, in family order
    features: dict[str, float]  # everything the classifier reads besides the text itself


_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Reading:
    """A listing read once for both the evidence and the model: NFKC and lower case, and squeezed."""

    title: str
    body: str  # the text, at most EVIDENCE_CHARS of it
    title_squeezed: str
    body_squeezed: str


def read(title: str, text: str) -> Reading:
    title = unicodedata.normalize("NFKC", title[:EVIDENCE_CHARS]).lower()
    body = unicodedata.normalize("NFKC", text[:EVIDENCE_CHARS]).lower()
    return Reading(title, body, _squeezed(title), _squeezed(body))


def gather(
    title: str, text: str, entities: Entities | None = None, *, topic: str = "", reading: Reading | None = None
) -> Evidence:
    reading = reading or read(title, text)
    squeezed = f"{reading.title_squeezed}{reading.body_squeezed}"
    title_squeezed = reading.title_squeezed
    words = set(_WORD.findall(reading.title)) | set(_WORD.findall(reading.body))
    found: dict[str, dict[str, None]] = {}  # family -> its terms found, in the order of FAMILIES
    for _, entries in _AUTOMATON.iter(squeezed):
        for family, term in entries:
            found.setdefault(family, {})[term] = None
    for word in words & _SHORT_TERMS.keys():
        for family, term in _SHORT_TERMS[word]:
            found.setdefault(family, {})[term] = None
    in_title = (
        {family for _, entries in _AUTOMATON.iter(title_squeezed) for family, _ in entries} if title_squeezed else set()
    )
    families: dict[str, int] = {}
    terms: list[str] = []
    features: dict[str, float] = {}
    for family in FAMILIES:
        hits = found.get(family)
        if hits:
            families[family] = len(hits)
            terms += list(hits)[:4]
            features[f"family:{family}"] = min(len(hits), 4) / 2
            if family in in_title:
                features[f"title:{family}"] = 1.0
    if entities is not None:
        if entities.prices:
            features["has_price"] = 1.0
            per_unit = [p for p in entities.prices if p.unit in ("per_item", "per_set")]
            if per_unit:
                features["has_unit_price"] = 1.0
            if any(p.unit == "per_month" for p in entities.prices):
                features["has_subscription"] = 1.0
            if any(p.currency in ("USDT", "BTC", "ETH") for p in entities.prices):
                features["crypto_price"] = 1.0
        if entities.quantities:
            features["has_quantity"] = 1.0
            if max(q.value for q in entities.quantities) >= 1000:
                features["bulk_quantity"] = 1.0
            if any(q.unit in ("photo", "set", "person", "record", "video") for q in entities.quantities):
                features["data_quantity"] = 1.0
        kinds = {c.kind for c in entities.contacts}
        if kinds:
            features["has_contact"] = 1.0
        if kinds & {"telegram", "xmpp", "tox", "session", "qq", "wechat"}:
            features["private_contact"] = 1.0
    if topic:
        features[f"topic:{topic}"] = 1.0
    features.update(_combinations(features))
    return Evidence(families, tuple(terms), features)


# What the families mean together: a face photo is not a sale, a price is not a sale, a face photo
# with a price or a count is. The model is linear: these say what no single family can.
OFFER_FACE = ("face_photos", "id_documents", "liveness_media", "face_models", "databases", "verified_accounts")
OFFER_TOOL = ("injection_tools", "face_swap")
PURPOSE = ("bypass", "verification_targets")
DECOYS = ("cosmetics", "photography", "research", "news_warning", "vendor_compliance", "support_help", "jobs",
          "rules_notice", "ordinary_goods")  # fmt: skip
COMBINATIONS = (
    "face+commerce", "tool+commerce", "bypass+commerce", "tool+bypass", "face+bypass", "teach+threat",
    "teach+commerce", "decoy+no_threat", "decoy+threat", "face+data_quantity", "threat+nothing_else",
)  # fmt: skip


def _combinations(f: dict[str, float]) -> dict[str, float]:
    def any_of(names: tuple[str, ...]) -> bool:
        return any(f"family:{n}" in f for n in names)

    face, tool, purpose = any_of(OFFER_FACE), any_of(OFFER_TOOL), any_of(PURPOSE)
    commerce = any_of(("selling", "samples")) or any(k in f for k in ("has_price", "has_quantity", "private_contact"))
    teach, decoy = "family:teaching" in f, any_of(DECOYS)
    threat = face or tool or purpose
    out = {
        "face+commerce": face and commerce,
        "tool+commerce": tool and commerce,
        "bypass+commerce": purpose and commerce,
        "tool+bypass": tool and purpose,
        "face+bypass": face and purpose,
        "teach+threat": teach and threat,
        "teach+commerce": teach and commerce,
        "decoy+no_threat": decoy and not threat,
        "decoy+threat": decoy and threat,
        "face+data_quantity": face and "data_quantity" in f,
        "threat+nothing_else": threat and not commerce and not decoy,
    }
    return {k: 1.0 for k, v in out.items() if v}
