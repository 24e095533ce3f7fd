from __future__ import annotations

import pytest

from bioleak.demo.market import LISTINGS
from pipeline.classify import classify, extract_entities
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
