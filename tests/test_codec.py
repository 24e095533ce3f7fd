"""The hand-written record -> document converters stay what dataclasses.asdict would give."""

from __future__ import annotations

import dataclasses
import json

from indexer.codec import hit_from_doc, hit_to_doc, listing_from_doc, listing_to_doc
from pipeline.models import Contact, Price
from tests.factories import make_hit, make_listing


def test_documents_equal_asdict_and_round_trip() -> None:
    listing = dataclasses.replace(
        make_listing(5, title="人脸", text="x"),
        prices=(Price(0.2, "CNY", "per_item"), Price(20, "USDT", "per_pack")),
        contacts=(Contact("qq", "123456"), Contact("telegram", "@seller")),
        evidence=("人脸数据",), tool_links=("http://x.example/t.apk",), author="bob", posted_at="昨天",
    )  # fmt: skip
    hit = make_hit(listing, "acme-bank", "acme-1")
    for record, to_doc, from_doc in ((listing, listing_to_doc, listing_from_doc), (hit, hit_to_doc, hit_from_doc)):
        doc = to_doc(record)  # type: ignore[operator]
        assert json.dumps(doc, sort_keys=True) == json.dumps(dataclasses.asdict(record), sort_keys=True)
        assert from_doc(json.loads(json.dumps(doc))) == record  # type: ignore[operator]
