from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bioleak.demo.market import LISTINGS
from pipeline.classify import classify, detect_lang, extract_entities
from pipeline.models import Contact, Price


@pytest.mark.parametrize("listing", LISTINGS, ids=[item.path for item in LISTINGS])
def test_demo_listings_get_their_expected_category(listing) -> None:  # type: ignore[no-untyped-def]
    assert classify(listing.title, listing.body).category == listing.category


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("人-脸 数.据 出售 10万张", "face_data_sale"),
        ("L i v e n e s s   B y p a s s tool", "over_face_tool"),
        ("face wash for oily skin", "benign"),
        ("Best face cream 2026", "benign"),
        ("", "benign"),
    ],
)
def test_obfuscation_and_decoys(title: str, category: str) -> None:
    assert classify(title, "").category == category


def test_entities_in_chinese() -> None:
    e = extract_entities("口罩人脸 10万张 0.2元/张，整套 ￥500/套。QQ：2874561032 V信: face_bank88 飞机 @seller_cn")
    assert e.quantity == 100_000
    assert Price(0.2, "CNY", "per_item") in e.prices
    assert Price(500.0, "CNY", "per_pack") in e.prices
    assert set(e.contacts) == {
        Contact("qq", "2874561032"),
        Contact("wechat", "face_bank88"),
        Contact("telegram", "seller_cn"),
    }


def test_entities_in_english() -> None:
    e = extract_entities("500 sets, $4 per pack or $1500 total. t.me/kyc_packs or Sales@Example.org; 5k photos")
    assert e.quantity == 5000
    assert set(e.prices) == {Price(4.0, "USD", "per_pack"), Price(1500.0, "USD", "total")}
    assert Contact("telegram", "kyc_packs") in e.contacts
    assert Contact("email", "sales@example.org") in e.contacts


@pytest.mark.parametrize("quantity,expected", [("1.2w张", 12_000), ("3千张", 3_000), ("10万+张", 100_000)])
def test_quantity_multipliers(quantity: str, expected: int) -> None:
    assert extract_entities(quantity).quantity == expected


CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "classify_corpus.yaml").read_text("utf-8"))["listings"]


@pytest.mark.parametrize("item", CORPUS, ids=[f"{i:02d}-{item['category']}" for i, item in enumerate(CORPUS)])
def test_labelled_corpus(item: dict[str, Any]) -> None:
    """Each labelled listing exactly: bench/classify_bench.py reports the same corpus as rates."""
    assert classify(item["title"], item["text"]).category == item["category"]
    e = extract_entities(f"{item['title']}\n{item['text']}")
    assert {(p.amount, p.currency, p.unit) for p in e.prices} == {(float(a), c, u) for a, c, u in item["prices"]}
    assert e.quantity == item["quantity"]
    assert {(c.kind, c.value) for c in e.contacts} == {(k, str(v)) for k, v in item["contacts"]}


def test_corpus_has_enough_decoys_in_both_languages() -> None:
    assert len(CORPUS) >= 60
    assert sum(item["category"] == "benign" for item in CORPUS) >= 20
    assert {detect_lang(item["title"] + " " + item["text"]) for item in CORPUS} == {"zh", "en"}


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        ("扣扣 3345 6789", Contact("qq", "33456789")),
        ("Q群：71234567", Contact("qq_group", "71234567")),
        ("V信 face_bank88", Contact("wechat", "face_bank88")),
        ("飞机：@seller_cn", Contact("telegram", "seller_cn")),
        ("电报 @Seller_CN", Contact("telegram", "seller_cn")),
        ("https://t.me/Kyc_Packs", Contact("telegram", "kyc_packs")),
    ],
)
def test_obfuscated_contacts_are_normalised(text: str, contact: Contact) -> None:
    assert extract_entities(text).contacts == (contact,)


@pytest.mark.parametrize(
    "text",
    ["wechat payment accepted", "telegram users welcome", "chat.me/whatever", "QQ 12345678 3000元 total"],
)
def test_contact_lookalikes_are_not_contacts(text: str) -> None:
    contacts = extract_entities(text).contacts
    assert all(c.value in ("12345678",) for c in contacts)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("一套 ¥35", Price(35, "CNY", "per_pack")),
        ("每张 3 元", Price(3, "CNY", "per_item")),
        ("for $25.", Price(25, "USD", "total")),
        ("$2k lifetime", Price(2000, "USD", "total")),
        ("0.001 BTC", Price(0.001, "BTC", "total")),
        ("25 USDT per pack", Price(25, "USDT", "per_pack")),
    ],
)
def test_price_units(text: str, price: Price) -> None:
    assert extract_entities(text).prices == (price,)


@pytest.mark.parametrize(
    ("text", "lang"), [("出售人脸照片 10万张", "zh"), ("selling face photos", "en"), ("12345", "")]
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang
