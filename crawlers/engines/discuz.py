"""Discuz! X (the most common Chinese forum software): rewritten and dynamic URLs of one thread."""

from crawlers.engines.base import engine

ENGINE = engine(
    "discuz",
    signatures=[
        r"<meta[^>]+name=[\"']generator[\"'][^>]+Discuz!",
        r"Powered by <[^>]*>?\s*Discuz!",
        r"\bdiscuz_uid\b|\bdiscuz_tips\b|var\s+discuz",
        r"static/image/common/|forum\.php\?mod=(?:viewthread|forumdisplay)",
    ],
    ignore=[
        r"forum\.php\?.*\bmod=(?:post|misc|redirect|rss|ajax|relatekw|image|topicadmin|viewthread&.*\baction=printable)",
        r"(?:^|/)(?:member|home|misc|search|connect|userapp|group|api|admin|uc_server/)(?:\.php)?",
        r"(?:^|/)(?:space|home)-[a-z]+-",  # rewritten user spaces: space-uid-5.html, space-username-x.html
        r"[?&](?:authorid|ordertype|orderby|filter|specialtype|dateline|typeid|sortid|extra|from|mobile)=",
        r"/archiver/",  # the text-only copy of threads a crawler reaches in their full form
        r"(?:^|/)forum-\d+-\d+-(?:digest|heat|hot|lastpost|dateline|reply|views)",
    ],
    attachment=[r"forum\.php\?.*\bmod=attachment", r"/data/attachment/"],
    listing=[
        r"(?:^|/)thread-\d+-\d+-\d+\.html",
        r"forum\.php\?.*\bmod=viewthread\b.*\btid=\d+|forum\.php\?.*\btid=\d+.*\bmod=viewthread",
        r"(?:^|/)viewthread\.php\?.*\btid=\d+",
    ],
    index=[
        r"(?:^|/)forum-\d+-\d+\.html",
        r"forum\.php\?.*\b(?:mod=forumdisplay|gid=\d+|mod=guide)",
        r"(?:^|/)forum\.php$|(?:^|/)forumdisplay\.php",
        r"(?:^|/)group-\d+-\d+\.html",
    ],
    listing_id=[r"thread-(\d+)-\d+-\d+\.html", r"[?&]tid=(\d+)"],
    index_id=[r"forum-(\d+)-\d+\.html", r"[?&]fid=(\d+)"],
    page_number=[r"thread-\d+-(\d+)-\d+\.html", r"forum-\d+-(\d+)\.html"],
    post_selectors=[".t_f", ".pattl", ".sign", ".pcb .locked"],
    drop_params=["extra", "formhash"],
)
