"""Flarum, as its server-rendered <noscript> content shows it: /d/ID-slug, /t/tag, ?page=2."""

from crawlers.engines.base import engine

ENGINE = engine(
    "flarum",
    signatures=[r"id=[\"']flarum-(?:loading|content)|flarum-loading", r"flarum\.core|\bflarum\b"],
    ignore=[
        r"(?:^|/)(?:u|users|settings|notifications|login|signup|logout|reset|confirm|api|p)(?:/|$|\?)",
        r"[?&](?:sort|q)=",
        r"(?:^|/)d/\d+(?:-[^/?#]*)?/\d+",  # "near post N": an alias of a page of its discussion
    ],
    attachment=[r"(?:^|/)assets/files/"],
    listing=[r"(?:^|/)d/\d+"],
    index=[r"(?:^|/)(?:all|tags|following)?(?:$|\?)", r"(?:^|/)t/[^/?#]+/?(?:$|\?)"],
    listing_id=[r"/d/(\d+)"],
    post_selectors=["#flarum-content .Post-body", "noscript .Post-body", ".Post-body"],
)
