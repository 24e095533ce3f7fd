"""The analyst's query language, parsed once into a structure both stores translate.

    人脸 照片                 every word must occur (title or text)
    "selfie with id"         a phrase: its words adjacent, in order
    活体 OR 过人脸            either; OR binds tighter than the spaces between words
    title:人脸  text:QQ       a word or phrase in that field only
    category:tutorial site:market.example:8080 source:NAME org:acme-bank
    contact:2874561032 author:NAME triage:confirmed
                             exact filters; OR between values of one field: category:tutorial OR category:benign

A Chinese word is matched as a phrase of its character bigrams (人脸数据 -> 人脸 脸数 数据,
adjacent), so it is found inside longer text without any server-side analyzer. A `name:value`
whose name is not a field above is ordinary text (URLs, `QQ:123`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.store import SearchQuery, iso_utc
from indexer.text import terms
from pipeline.models import CATEGORIES, TRIAGE_STATES

TEXT_FIELDS = ("title", "text")
KEYWORD_FIELDS = ("category", "site", "source", "org", "contact", "author", "triage")
_TOKEN = re.compile(r'(?:(\w+):)?"([^"]*)"?|(\S+)')


NO_VALUE = "\x00"  # a filter value that no record has: "category:a category:b" matches nothing


class QueryError(ValueError):
    """A query the analyst must fix; the message says what and where."""


@dataclass(frozen=True)
class Phrase:
    """Terms that must occur adjacent and in order; `field` None means title or text."""

    terms: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class ParsedQuery:
    # Each group must match; within a group, any phrase may (OR).
    groups: tuple[tuple[Phrase, ...], ...] = ()
    # field -> allowed values (OR within a field, AND across fields).
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _clause(field: str | None, value: str) -> Phrase | tuple[str, str] | None:
    if field in KEYWORD_FIELDS:
        if not value:
            raise QueryError(f"{field}: needs a value")
        return (field, value)
    words = tuple(terms(value))
    return Phrase(words, field) if words else None  # punctuation only: nothing to match


def _tokens(text: str) -> list[tuple[str | None, str, bool]]:
    """(field, value, quoted): `field` is one of the fields above, or None for plain text."""
    fields = (*TEXT_FIELDS, *KEYWORD_FIELDS)
    out: list[tuple[str | None, str, bool]] = []
    for match in _TOKEN.finditer(text):
        prefix, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is None:
            name, colon, rest = bare.partition(":")
            if colon and name.lower() in fields:
                out.append((name.lower(), rest.strip('"'), False))
            else:
                out.append((None, bare, False))
        elif prefix and prefix.lower() in fields:
            out.append((prefix.lower(), quoted, True))
        else:
            out.append((None, f"{prefix or ''} {quoted}", True))
    return out


def parse_query(text: str) -> ParsedQuery:
    groups: list[list[Phrase | tuple[str, str]]] = []
    pending_or = False
    for field, value, quoted in _tokens(text):
        if field is None and value == "OR" and not quoted:
            if not groups or pending_or:
                raise QueryError("OR needs a word on each side")
            pending_or = True
            continue
        clause = _clause(field, value)
        if clause is None:
            continue
        if pending_or:
            groups[-1].append(clause)
            pending_or = False
        else:
            groups.append([clause])
    if pending_or:
        raise QueryError("OR needs a word on each side")

    text_groups: list[tuple[Phrase, ...]] = []
    filters: dict[str, list[str]] = {}
    for group in groups:
        phrases = [c for c in group if isinstance(c, Phrase)]
        keywords = [c for c in group if not isinstance(c, Phrase)]
        if phrases and keywords:
            raise QueryError("OR joins words with words, or values of one field (category:a OR category:b)")
        if keywords:
            names = {name for name, _ in keywords}
            if len(names) > 1:
                raise QueryError(f"OR between different fields ({', '.join(sorted(names))}) is not supported")
            name = names.pop()
            values = [v for _, v in keywords]
            if name in filters:  # the same field twice, ANDed: only values in both can match
                values = [v for v in values if v in filters[name]] or [NO_VALUE]
            filters[name] = values
        else:
            text_groups.append(tuple(phrases))
    return ParsedQuery(
        groups=tuple(text_groups),
        filters=tuple((k, tuple(v)) for k, v in sorted(filters.items())),
    )


@dataclass(frozen=True)
class Criteria:
    """A SearchQuery and its parsed text merged into the one set of conditions a store applies."""

    groups: tuple[tuple[Phrase, ...], ...]
    keywords: tuple[tuple[str, tuple[str, ...]], ...]  # category, site, source, author, contact
    hit_orgs: tuple[str, ...] | None  # conditions on one hit of the listing
    hit_triage: tuple[str, ...] | None
    max_distance: int | None
    has_match: bool | None
    needs_review: bool | None
    price_min: float | None
    price_max: float | None
    ranges: tuple[tuple[str, str, str], ...]  # (field, ">=" or "<", ISO UTC value)

    @property
    def on_hits(self) -> bool:
        return self.hit_orgs is not None or self.hit_triage is not None or self.max_distance is not None


def criteria(query: SearchQuery) -> Criteria:
    parsed = parse_query(query.text)
    merged: dict[str, tuple[str, ...]] = dict(parsed.filters)
    for name in KEYWORD_FIELDS:
        value = getattr(query, name, None)
        if value is None:
            continue
        if name in merged:  # in the text and as an option: only a value in both can match
            merged[name] = tuple(v for v in merged[name] if v == value) or (NO_VALUE,)
        else:
            merged[name] = (value,)
    for name, allowed in (("category", CATEGORIES), ("triage", TRIAGE_STATES)):
        bad = [v for v in merged.get(name, ()) if v not in allowed and v != NO_VALUE]
        if bad:
            raise QueryError(f"{name}:{bad[0]} is not one of {', '.join(allowed)}")
    ranges = []
    for field, bound, op in (
        ("first_seen", query.first_seen_from, ">="), ("first_seen", query.first_seen_to, "<"),
        ("last_seen", query.last_seen_from, ">="), ("last_seen", query.last_seen_to, "<"),
    ):  # fmt: skip
        if bound is not None:
            try:
                ranges.append((field, op, iso_utc(bound)))
            except ValueError as exc:
                raise QueryError(str(exc)) from exc
    return Criteria(
        groups=parsed.groups,
        keywords=tuple((k, merged[k]) for k in ("category", "site", "source", "author", "contact") if k in merged),
        hit_orgs=merged.get("org"),
        hit_triage=merged.get("triage"),
        max_distance=query.max_distance,
        has_match=query.has_match,
        needs_review=query.needs_review,
        price_min=query.price_min,
        price_max=query.price_max,
        ranges=tuple(ranges),
    )
