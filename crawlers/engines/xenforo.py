"""XenForo 2 (and 1): /forums/slug.N/, /threads/slug.N/page-2, /posts/N/, /attachments/name.N/."""

from crawlers.engines.base import engine

ENGINE = engine(
    "xenforo",
    signatures=[r"<html[^>]+id=[\"']XF[\"']", r"data-xf-init=|data-template=[\"']", r"XenForo|xenforo"],
    ignore=[
        r"(?:^|/)(?:login|register|lost-password|account|conversations|members|search|whats-new/(?:profile|latest)"
        r"|misc|help|online|goto|find-threads|watched|tags/?$|attachments/upload)",
        r"/threads/[^/]+/(?:latest|unread|post-\d+|post-thread|reply|watch|preview|approve)",
        r"(?:^|/)posts/\d+/?$",  # a post's permalink: an alias of a page of its thread
        r"/posts/\d+/(?:react|reactions|quote|edit|report|share|ip|bookmark)",
        r"[?&](?:order|direction|prefix_id|last_days|starter_id)=",
        r"/forums/-/|/forums/[^/]+/(?:post-thread|create-thread|watch|mark-read)",
    ],
    attachment=[r"(?:^|/)attachments/[^/]+\.\d+/?", r"(?:^|/)data/attachments/", r"(?:^|/)proxy\.php\?image="],
    listing=[r"(?:^|/)threads/(?:[^/]*\.)?\d+/?"],
    index=[r"(?:^|/)forums/(?:[^/]*\.)?\d+/?", r"(?:^|/)(?:forums|categories)/?$", r"(?:^|/)whats-new/posts/"],
    listing_id=[r"/threads/(?:[^/]*\.)?(\d+)/?"],
    index_id=[r"/forums/(?:[^/]*\.)?(\d+)/?"],
    page_number=[r"/page-(\d+)/?$"],
    post_selectors=[".message-body .bbWrapper", ".message-signature", ".message-attachments", ".bbWrapper"],
)
