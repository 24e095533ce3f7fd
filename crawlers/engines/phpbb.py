"""phpBB 3 (prosilver and styles built on it), and the common SEO-URL extensions."""

from crawlers.engines.base import engine

ENGINE = engine(
    "phpbb",
    signatures=[
        r"<body[^>]+id=[\"']phpbb[\"']",
        r"Powered by <a[^>]+phpbb\.com",
        r"\./viewtopic\.php\?|viewforum\.php\?f=\d+",
        r"prosilver|phpbb_",
    ],
    min_signatures=2,
    ignore=[
        r"(?:^|/)(?:ucp|posting|memberlist|search|mcp|report|faq|viewonline|feed|cron)\.php",
        r"(?:^|/)app\.php/(?:help|feed|user|notification)",
        r"[?&](?:view=(?:print|next|previous|unread)|(?:hilit|sk|sd|st|mark|e)=)",
        r"[?&]avatar=",
        # a post's permalink: an alias of a page of its topic, which the lists link by its t=
        r"viewtopic\.php\?(?!.*\bt=\d)(?:.*&)?p=\d+",
    ],
    attachment=[r"(?:^|/)download/file\.php\?(?!.*avatar=)"],
    listing=[r"(?:^|/)viewtopic\.php\?", r"-t\d+(?:-\d+)?\.html$", r"(?:^|/)topic\d+(?:-\d+)?\.html$"],
    index=[r"(?:^|/)viewforum\.php\?", r"(?:^|/)index\.php$", r"-f\d+/?(?:index-s\d+\.html)?$"],
    listing_id=[r"viewtopic\.php\?(?:.*&)?t=(\d+)", r"-t(\d+)(?:-\d+)?\.html$", r"topic(\d+)(?:-\d+)?\.html$"],
    index_id=[r"viewforum\.php\?(?:.*&)?f=(\d+)", r"-f(\d+)/"],
    page_number=[r"-t\d+-(\d+)\.html$", r"topic\d+-(\d+)\.html$"],
    post_selectors=[".postbody .content", ".postbody .signature", ".postbody .attachbox", ".postbody dl.file"],
    drop_params=["sid"],
)
