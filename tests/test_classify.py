"""Classification and entity extraction: each kind of evidence and each form of entity, with our
own examples (not the corpus the model learns from)."""

from __future__ import annotations

import numpy as np
import pytest

from bioleak.demo.market import LISTINGS
from pipeline.classify import WIDTH, Classifier, classify, default_classifier, detect_lang, training_set
from pipeline.corpus import load_corpus, styles
from pipeline.entities import extract_entities, fold_homoglyphs, normalise
from pipeline.evidence import gather
from pipeline.models import CATEGORIES, Contact, Price, Quantity


@pytest.mark.parametrize("listing", LISTINGS, ids=[item.path for item in LISTINGS])
def test_demo_listings_get_their_expected_category(listing) -> None:  # type: ignore[no-untyped-def]
    assert classify(listing.title, listing.body).category == listing.category


@pytest.mark.parametrize(
    ("title", "text", "category"),
    [
        # what is offered, named by a synonym or slang, with its price per unit as the evidence
        ("正脸免冠照 一人三张", "新到一批，一张两块五，要的私", "face_data_sale"),
        ("Fresh frontal pics + holding-doc shots", "Clean batch, 0.6 USDT a pic, 40k available", "face_data_sale"),
        ("人-脸 数.据 出售 10万张", "", "face_data_sale"),
        # a tool described by its technical form, not by "bypass"
        ("Camera2 帧替换 模块 LSPosed 可用", "选视频即可替换前置画面，月卡 120", "over_face_tool"),
        ("Patched selfie SDK, returns pass for every frame", "APK + .so, 300 USDT lifetime", "over_face_tool"),
        # a guide that explains how versus a tool that does it
        ("手把手教你 把照片做成眨眼视频", "第一步 准备照片 第二步 导入 第三步 导出", "tutorial"),
        ("Step-by-step guide: how selfie checks are beaten", "Chapter 1 explains passive liveness...", "tutorial"),
        # decoys that share words with the threats
        ("补水面膜 敏感肌可用", "一盒10片 69元", "benign"),
        ("Face ID not working after screen repair", "Any idea how to fix it? It worked before", "benign"),
        ("Paper: a survey of presentation attack detection", "We review liveness detection research", "benign"),
    ],
)
def test_evidence_kinds_decide_the_category(title: str, text: str, category: str) -> None:
    assert classify(title, text).category == category


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("实名人像照 批量出", "face_data_sale"), ("WTS passport + selfie sets", "face_data_sale"),
        ("活体检测 绕过 插件", "over_face_tool"), ("liveness bypass virtual camera", "over_face_tool"),
        ("Moisturising face cream, 50 ml", "benign"), ("二手 人脸识别 门禁机", "benign"),
    ],
)  # fmt: skip
def test_a_listing_that_is_only_a_title(title: str, category: str) -> None:
    assert classify(title, "").category == category


def test_an_unsure_listing_is_marked_for_review_and_explained() -> None:
    clear = classify("出售 人脸照片 10万张", "0.2元/张 实拍 正脸 QQ 28761234")
    assert clear.category == "face_data_sale" and not clear.needs_review and clear.score >= 0.6
    assert {"人脸", "出售"} <= set(clear.evidence)
    # a model that cannot tell the categories apart: every listing is left to an analyst
    undecided = Classifier(np.zeros((4, WIDTH)), np.zeros(4), CATEGORIES).classify_many(
        [("资料", "有需要的联系", None)]
    )
    assert undecided[0].needs_review and undecided[0].score == 0.25
    top = dict(default_classifier().explain("出售 人脸照片 10万张", "0.2元/张"))
    assert top and max(top.values()) > 0


def test_a_sources_topic_is_one_piece_of_evidence() -> None:
    title, text = "新料到了", "要的私聊 价格好说"
    plain = classify(title, text)
    with_topic = classify(title, text, topic="face_data")
    assert dict(with_topic.probabilities)["face_data_sale"] > dict(plain.probabilities)["face_data_sale"]
    assert "source topic: face_data" in with_topic.evidence


def test_the_model_is_built_reproducibly_from_the_corpus() -> None:
    docs, labels = training_set(["seed", "zh_market"])
    first, second = Classifier.train(docs, labels), Classifier.train(docs, labels)
    assert np.array_equal(first.coef, second.coef) and np.array_equal(first.intercept, second.intercept)
    probe = [("出售 人脸照片", "0.2元/张", None), ("face cream", "for dry skin", None)]
    assert first.classify_many(probe) == second.classify_many(probe)
    restored = Classifier.from_arrays(first.to_arrays())
    assert [c.category for c in restored.classify_many(probe)] == [c.category for c in first.classify_many(probe)]


def test_the_corpus_has_its_styles_and_decoys() -> None:
    corpus = load_corpus()
    assert len(corpus) >= 600 and len(styles()) >= 8
    assert sum(item.category == "benign" for item in corpus) >= 0.35 * len(corpus)


def test_evidence_features_read_the_structure_of_a_sale() -> None:
    text = "一张 0.5 元，现货 3000 张，先看样"
    found = gather("", text, extract_entities(text))
    assert {"has_unit_price", "has_quantity", "data_quantity", "family:samples", "family:selling"} <= set(
        found.features
    )


# --- entities ---------------------------------------------------------------------------------------


def prices(text: str) -> set[tuple[float, str, str]]:
    return {(p.amount, p.currency, p.unit) for p in extract_entities(text).prices}


def test_thousands_separators_followed_by_full_width_punctuation() -> None:
    assert (1200.0, "CNY", "per_lot") in prices("整批打包价 ￥1，200，先到先得")
    assert (12500.0, "USD", "total") in prices("Lifetime licence: $12,500。")
    assert {q.value for q in extract_entities("现货 1，200，000 张。").quantities} == {1_200_000}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.2元/张", (0.2, "CNY", "per_item")),
        ("每套 ¥35", (35.0, "CNY", "per_set")),
        ("15U一套", (15.0, "USDT", "per_set")),
        ("2u/张", (2.0, "USDT", "per_item")),
        ("月卡 168 元", (168.0, "CNY", "per_month")),
        ("$79/month", (79.0, "USD", "per_month")),
        ("€40 per kit", (40.0, "EUR", "per_set")),
        ("£18 each", (18.0, "GBP", "per_item")),
        ("₽3000", (3000.0, "RUB", "total")),
        ("NT$350 一份", (350.0, "TWD", "per_set")),
        ("HK$150", (150.0, "HKD", "total")),
        ("0.004 BTC", (0.004, "BTC", "total")),
        ("0.3 ETH for the lot", (0.3, "ETH", "per_lot")),
        ("2万元 打包", (20000.0, "CNY", "per_lot")),
        ("1.5k USDT total", (1500.0, "USDT", "total")),
        ("代过一次 80/次", (80.0, "CNY", "per_other")),
        ("一条20", (20.0, "CNY", "per_item")),
    ],
)
def test_prices_in_every_common_currency_and_notation(text: str, expected: tuple[float, str, str]) -> None:
    assert expected in prices(text)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("10万张", 100_000, "photo"), ("1.2w张", 12_000, "photo"), ("3w+ 套", 30_000, "set"), ("3千组", 3_000, "set"),
        ("40k+ selfies", 40_000, "photo"), ("3,000 pcs", 3_000, "item"), ("500 kits", 500, "set"),
        ("库存: 3200", 3_200, "item"), ("120 in stock", 120, "item"), ("12 GB", 12, "GB"),
        ("214,506 rows", 214_506, "record"), ("300-500张", 400, "photo"), ("48K users", 48_000, "person"),
    ],
)  # fmt: skip
def test_quantities_with_units_and_magnitudes(text: str, value: float, unit: str) -> None:
    assert Quantity(value, unit) in extract_entities(text).quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("300 sets ready | 40 for $500", 40), ("批量 800 = 1600u", 800), ("两千套 新到", 2000), ("三万張 大頭", 30000),
        ("library holds 60 scanned subjects", 60), ("\"selfies\": 15300,", 15300), ("5,000 masks in stock", 5000),
        ("剩 60 支", 60), ("库存还有30台", 30), ("1850 расkѕ", 1850),
    ],
)  # fmt: skip
def test_counts_on_offer_in_other_forms(text: str, value: float) -> None:
    assert value in {q.value for q in extract_entities(text).quantities}


@pytest.mark.parametrize(
    "text",
    [
        "1-9 sets: $35/set\n10-49 sets: $28/set", "50+ accounts = $3 each", "MOQ 20 units", "5000张以上可谈",
        "满50人成团", "min_qty=1000", "每人 30-50 张", "each: mesh + texture + 40 ref photos", "upload 8-15 selfies",
        "send 12 selfies, get avatars", "导入 50 张", "可存3000张人脸", "3000 face capacity", "iPhone 14 Face ID",
        "11 video lessons", "Samples: 20 users, blurred", "another 50 KYC packs delivered", "一天能做200个号",
        "carton (40 boxes)", "10片装", "clay mask (100 g)", "N卡 8G 显存", "GPU 8GB+", "2024 models",
        "stock 04/2024", "by country: 0.25 USDT/user",
    ],
)  # fmt: skip
def test_counts_that_are_not_on_offer(text: str) -> None:
    assert extract_entities(text).quantities == ()


def test_the_stock_column_of_a_pipe_table() -> None:
    table = "| type | stock | price |\n|------|-------|-------|\n| blink 720p | 1,400 | 4.00 |\n| turn | 760 | 6.50 |\n"
    assert {q.value for q in extract_entities(table).quantities} == {1400, 760}


def test_homoglyphs_are_read_only_in_mixed_script_words() -> None:
    assert fold_homoglyphs("7 uѕdt / расk, 500 руб") == "7 usdt / pack, 500 руб"


def test_small_counts_inside_an_item_are_not_quantities_on_offer() -> None:
    assert extract_entities("each pack: 3 videos, 2 selfies, 1 ID").quantities == ()
    assert extract_entities("Version 2.3, released 2024").quantities == ()


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        ("QQ：2874561032", ("qq", "2874561032")),
        ("企鹅 3345 6789", ("qq", "33456789")),
        ("扣扣：二八四七一九三零五六", ("qq", "2847193056")),
        ("Q：3316650972", ("qq", "3316650972")),
        ("Q群 738 462 915", ("qq_group", "738462915")),
        ("V信：face_bank88", ("wechat", "face_bank88")),
        ("薇：abc_de 12（中间没空格）", ("wechat", "abc_de12")),
        ("vx：ab-cd2024（-换成_）", ("wechat", "ab_cd2024")),
        ("微信同号 139 1234 5678", ("wechat", "13912345678")),
        ("飞机 @seller_cn", ("telegram", "seller_cn")),
        ("TG: kyc_plug_eu", ("telegram", "kyc_plug_eu")),
        ("t.me/kyc_packs", ("telegram", "kyc_packs")),
        ("电报：@Data_Shop", ("telegram", "data_shop")),
        ("seller [at] mail [dot] example", ("email", "seller@mail.example")),
        ("xmpp: dump@jabber.example", ("xmpp", "dump@jabber.example")),
        ("ops@xmpp.jp", ("xmpp", "ops@xmpp.jp")),
        ("电话 138 0013 6627", ("phone", "13800136627")),
        ("call +44 7700 900123", ("phone", "447700900123")),
        ("LINE ID: shop_tw88", ("line", "shop_tw88")),
    ],
)
def test_contacts_by_type_normalised(text: str, contact: tuple[str, str]) -> None:
    assert Contact(*contact) in extract_entities(text).contacts


def test_a_bare_handle_is_a_telegram_handle_in_a_channel_or_after_a_cue() -> None:
    assert Contact("telegram", "shop_kf") in extract_entities("大头照打包 @shop_kf", channel="telegram").contacts
    assert Contact("telegram", "vendordesk") in extract_entities("Support: @vendordesk").contacts
    assert not extract_entities("thanks @everyone, see my twitter @someartist").contacts
    assert not [c for c in extract_entities("mail me at me@mail.example").contacts if c.kind == "telegram"]


def test_a_jabber_address_is_not_an_email_and_a_qq_number_is_not_a_phone() -> None:
    kinds = {c.kind for c in extract_entities("jabber: seller@jabber.example, QQ 13912345678").contacts}
    assert kinds == {"xmpp", "qq"}


def test_normalisation_undoes_spelled_out_text() -> None:
    assert normalise("企 鹅 二 八 四 七 一 九 三 零 五 六") == "企鹅2847193056"
    assert normalise("C H E N G T A O _ 1 6 8") == "CHENGTAO_168"


def test_entity_extraction_is_linear_on_long_hostile_runs() -> None:
    # Runs that make backtracking patterns quadratic: each must finish (a growth check with sizes
    # lives in bench/hostile_bench.py; here the outcome is checked).
    for junk in ("8" * 20_000, "1," * 10_000, "@" * 20_000, "a" * 20_000 + "@", "url(" * 5_000):
        entities = extract_entities(junk)
        assert len(entities.contacts) <= 1


def test_language_detection() -> None:
    assert (
        detect_lang("出售人脸照片") == "zh" and detect_lang("face photos for sale") == "en" and detect_lang("123") == ""
    )


def test_no_text_is_benign() -> None:
    result = classify("", "")
    assert (result.category, result.needs_review) == ("benign", False)


def test_prices_record_keeps_its_fields() -> None:
    assert Price(0.2, "CNY", "per_item") in extract_entities("0.2元/张").prices
