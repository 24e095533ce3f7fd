"""MyBB 1.8 (forumdisplay.php?fid=, showthread.php?tid=, and its SEO forum-N.html/thread-N.html)."""

from crawlers.engines.base import engine

ENGINE = engine(
    "mybb",
    signatures=[r"Powered By <a[^>]+mybb\.com|var MyBB|MyBB\.|jscripts/general\.js", r"showthread\.php\?tid="],
    ignore=[
        r"(?:^|/)(?:member|memberlist|usercp|private|search|calendar|misc|newreply|newthread|editpost|printthread"
        r"|sendthread|report|online|stats|showteam|contact|xmlhttp|syndication|ratethread|polls)\.php",
        r"[?&]action=(?:lastpost|newpost|nextnewest|nextoldest|thread|profile)",
        r"[?&](?:sortby|order|datecut|mode|highlight)=",
        r"(?:^|/)thread-\d+-(?:lastpost|newpost|nextnewest|nextoldest|post-\d+)\.html",
        r"showthread\.php\?(?:.*&)?pid=\d+",  # a post's permalink: an alias of its thread's page
        r"(?:^|/)user-\d+\.html",
        r"(?:^|/)archive/index\.php",  # the text-only "lite" copy of the board
    ],
    attachment=[r"(?:^|/)attachment\.php\?"],
    listing=[
        r"(?:^|/)showthread\.php\?",
        r"(?:^|/)thread-\d+(?:-page-\d+)?\.html",
        r"(?:^|/)announcement-\d+\.html|(?:^|/)announcements\.php\?aid=\d+",
    ],
    index=[r"(?:^|/)forumdisplay\.php\?", r"(?:^|/)forum-\d+(?:-page-\d+)?\.html", r"(?:^|/)index\.php$"],
    listing_id=[
        r"showthread\.php\?(?:.*&)?tid=(\d+)",
        r"(?:^|/)thread-(\d+)",
        r"(announcement)-(\d+)\.html",
        r"(announcement)s\.php\?aid=(\d+)",
    ],
    index_id=[r"forumdisplay\.php\?(?:.*&)?fid=(\d+)", r"(?:^|/)forum-(\d+)"],
    page_number=[r"-page-(\d+)\.html"],
    post_selectors=[".post_body", ".post .signature", ".post_attachments"],
)
