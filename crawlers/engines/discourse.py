"""Discourse, as it serves crawlers (no JavaScript): /latest, /c/slug/ID, /t/slug/ID?page=2."""

from crawlers.engines.base import engine

ENGINE = engine(
    "discourse",
    signatures=[r"<meta[^>]+name=[\"']generator[\"'][^>]+Discourse", r"crawler-post|data-discourse|discourse-"],
    ignore=[
        r"(?:^|/)(?:u|users|login|signup|search|session|my|admin|badges|groups|about|faq|guidelines|tos|privacy|"
        r"review|invites|password-reset|email|raw|print|posts/by_number|user_avatar|letter_avatar|"
        r"t/[^/]+/\d+/print)(?:/|$|\?)",
        r"\.(?:rss|json)(?:$|\?)",
        r"[?&](?:order|ascending|status|period|filter|u)=",
        r"(?:^|/)t/[^/?#]+/\d+/\d+",  # a post's permalink: an alias of a page of its topic
        r"(?:^|/)tags?(?:/|$)",  # tag lists repeat the category lists' topics
    ],
    attachment=[r"(?:^|/)uploads/(?:default/)?(?:original|optimized|short-url)/"],
    listing=[r"(?:^|/)t/[^/?#]+/\d+", r"(?:^|/)t/\d+(?:/|$|\?)"],
    index=[r"(?:^|/)(?:latest|top|new|hot|categories)(?:/|$|\?)", r"(?:^|/)c/"],
    listing_id=[r"/t/(?:[^/?#]+/)?(\d+)"],
    index_id=[r"/c/(?:[^/?#]+/)*(\d+)(?:/|$|\?)"],
    post_selectors=[".crawler-post .post", "[itemprop=text]", ".topic-body .cooked", "#main-outlet .post"],
)
