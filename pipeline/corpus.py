"""The labelled corpus the classifier learns from (pipeline/corpus/*.yaml, one file per style of
writing): listings with their category and their prices, quantities and contacts, normalised
the way pipeline/entities.py normalises them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from pipeline.models import CATEGORIES, Category


@dataclass(frozen=True)
class LabelledEntity:
    kind: str  # price | quantity | contact
    key: tuple[Any, ...]  # price: (amount, currency); quantity: (value,); contact: (type, value)
    optional: bool = False


@dataclass(frozen=True)
class CorpusListing:
    id: str
    style: str
    title: str
    text: str
    category: Category
    entities: tuple[LabelledEntity, ...] = ()


def _entities(item: dict[str, Any]) -> tuple[LabelledEntity, ...]:
    out = []
    for p in item.get("prices") or ():
        out.append(
            LabelledEntity("price", (round(float(p["amount"]), 6), str(p["currency"]).upper()), bool(p.get("optional")))
        )
    for q in item.get("quantities") or ():
        out.append(LabelledEntity("quantity", (round(float(q["value"]), 3),), bool(q.get("optional"))))
    for c in item.get("contacts") or ():
        kind, value = str(c["type"]).lower(), str(c["value"]).strip().lower()
        out.append(LabelledEntity("contact", (kind, value.lstrip("@") if kind == "telegram" else value),
                                  bool(c.get("optional"))))  # fmt: skip
    return tuple(out)


def styles() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("pipeline").joinpath("corpus").iterdir()
                  if p.name.endswith(".yaml"))  # fmt: skip


def load_corpus(only: list[str] | None = None) -> list[CorpusListing]:
    listings = []
    for style in only or styles():
        text = resources.files("pipeline").joinpath("corpus", f"{style}.yaml").read_text("utf-8")
        data = yaml.safe_load(text)
        for item in data["listings"]:
            if item["category"] not in CATEGORIES:
                raise ValueError(f"{style}: {item.get('id')}: unknown category {item['category']!r}")
            text = str(item.get("text") or "")
            listing = CorpusListing(str(item["id"]), data["style"], str(item["title"]), text, item["category"],
                                    _entities(item))  # fmt: skip
            listings.append(listing)
    return listings
