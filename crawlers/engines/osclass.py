"""Osclass classified-ads sites (the common open-source classifieds script): ads _iN.html,
search/category pages with ,iPage,N paging and sort variants."""

from crawlers.engines.base import engine

ENGINE = engine(
    "osclass",
    signatures=[r"osclass|oc-content/", r"_i\d+(?:\.html)?[\"'?]|sCategory|iPage"],
    ignore=[
        r"(?:^|/)(?:user/(?:login|register|recover|profile|dashboard|items|alerts)|item/(?:new|send-friend|contact|"
        r"edit|delete|mark)|contact|login|register|language)",
        r"[?&]page=(?:login|register|contact|user|item&action=(?:item_add|send_friend|contact))",
        r"(?:sOrder|iOrderType|sShowAs|bPic|sPriceMin|sPriceMax)[,=]",
    ],
    attachment=[r"(?:^|/)oc-content/uploads/"],
    listing=[r"_i\d+(?:\.html?)?/?$", r"[?&]page=item(?:&|$).*\bid=\d+|\bid=\d+.*[?&]page=item"],
    index=[r"(?:^|/)search/", r"[?&]page=search", r",iPage,\d+|[?&]iPage=\d+", r"-r\d+/?$|-c\d+/?$"],
    listing_id=[r"_i(\d+)", r"[?&]id=(\d+)"],
    page_number=[r"[?&]comments-page=(\d+)"],
    post_selectors=["#description", "#item-content .description", ".item-description", "#item-content"],
)
