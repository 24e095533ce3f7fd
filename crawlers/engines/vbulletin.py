"""vBulletin 3/4 (showthread.php, forumdisplay.php, SEO forms) and vBulletin 5 (/forum/... nodes)."""

from crawlers.engines.base import engine

ENGINE = engine(
    "vbulletin",
    signatures=[r"vBulletin|vbulletin_css|vb_login|vbmenu", r"showthread\.php\?|forumdisplay\.php\?"],
    ignore=[
        r"(?:^|/)(?:member|memberlist|usercp|private|profile|search|calendar|faq|online|register|login|sendmessage"
        r"|newreply|newthread|editpost|printthread|showpost|report|subscription|misc|ajax|external|cron|"
        r"announcement|showgroups|infraction)\.php",
        r"[?&](?:goto=(?:newpost|lastpost|nextnewest|nextoldest)|do=(?:markread|getinfo)|sort|order|pp|daysprune)=?",
        r"showthread\.php\?(?:.*&)?p=\d+",  # a post's permalink: an alias of a page of its thread
        r"(?:^|/)(?:member|register|login|search|lostpw|settings|privatemessage|activity)(?:/|$)",
    ],
    attachment=[r"(?:^|/)attachment\.php\?", r"(?:^|/)filedata/fetch\?", r"(?:^|/)attachments/"],
    listing=[
        r"(?:^|/)showthread\.php\?(?:.*&)?t=\d+",
        r"(?:^|/)showthread\.php\?\d+",
        r"(?:^|/)showthread\.php/\d+",
        r"(?:^|/)threads/\d+",
        r"(?:^|/)forum/(?:[^/?#]+/)+\d+-[^/?#]+",  # vB5: /forum/section/sub/12345-title
        r"(?:^|/)node/\d+",
    ],
    index=[
        r"(?:^|/)forumdisplay\.php",
        r"(?:^|/)forums/\d+",
        r"(?:^|/)forum/?$|(?:^|/)forum/(?:[^/?#]+/)*[a-z][^/?#]*/?(?:page\d+)?$",
        r"(?:^|/)(?:index|forum)\.php$",
    ],
    listing_id=[
        r"showthread\.php\?(?:.*&)?t=(\d+)",
        r"showthread\.php[?/](\d+)",
        r"/threads/(\d+)",
        r"/forum/(?:[^/?#]+/)+(\d+)-[^/?#]+",
    ],
    index_id=[r"forumdisplay\.php\?(?:.*&)?f=(\d+)", r"forumdisplay\.php[?/](\d+)", r"/forums/(\d+)"],
    page_number=[r"/page(\d+)(?:$|[?#])", r"[?&]page=(\d+)"],
    post_selectors=[".postcontent", "[id^=post_message_]", ".signature", ".js-post__content-text", ".attachments"],
    drop_params=["s"],
)
