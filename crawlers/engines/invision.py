"""Invision Community 4/5 (IP.Board): /forum/N-slug/, /topic/N-slug/page/2/, with or without index.php?/."""

from crawlers.engines.base import engine

ENGINE = engine(
    "invision",
    signatures=[r"ipsApp|ipsLayout|ipsType_", r"data-ipsquote|data-role=[\"']commentContent|Invision Community"],
    ignore=[
        r"(?:^|/)(?:login|register|lostpassword|profile|search|discover|notifications|messenger|settings|"
        r"staff|online|leaderboard|followers|guidelines|privacy|contact|cookies)(?:/|$|\?)",
        r"[?&]do=(?:getNewComment|getLastComment|findComment|showReactions|reportComment|add|edit|follow|markRead|"
        r"rss|download|embed)",
        r"[?&](?:sortby|sortdirection|filter|csrfKey)=",
        r"(?:^|/)(?:applications/core/interface/(?!file/attachment))",
    ],
    attachment=[r"applications/core/interface/file/attachment\.php", r"(?:^|/)uploads/monthly_"],
    listing=[r"(?:^|[/?])topic/\d+", r"[?&]showtopic=\d+"],
    index=[r"(?:^|[/?])forum/\d+", r"(?:^|[/?])forums?/?$", r"[?&]showforum=\d+"],
    listing_id=[r"topic/(\d+)", r"[?&]showtopic=(\d+)"],
    index_id=[r"forum/(\d+)", r"[?&]showforum=(\d+)"],
    page_number=[r"/page/(\d+)/?(?:$|\?)"],
    post_selectors=[
        "[data-role=commentContent]",
        ".cPost_contentWrap .ipsType_richText",
        ".cAuthorPane_signature",
        ".ipsType_richText",
    ],
)
