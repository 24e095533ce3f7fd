"""Paste sites (pastebin and its clones): an archive of recent pastes, paste views under a short
random key, and a raw text view of each."""

from crawlers.engines.base import engine

# A paste key: 5-16 letters and digits with at least one digit or one capital (random, unlike a
# word); case matters here, unlike in the rest of the URL rules.
_KEY = r"(?-i:(?=[A-Za-z0-9]{0,15}[0-9A-Z])[A-Za-z0-9]{5,16})"

ENGINE = engine(
    "paste",
    signatures=[r"/raw/|raw paste|/archive|pastebin|paste_code|de1|textarea[^>]+paste"],
    min_signatures=1,
    ignore=[
        r"(?:^|/)(?:login|signup|register|logout|settings|messages|pro|api|tools|faq|contact|doc_|report|clone|edit|"
        r"embed|embed_js|embed_iframe|print|delete|dmca|night_mode|languages|doc_[\w-]*)(?:[/_.?]|$)",
    ],
    listing=[rf"^/(?:paste/|p/|view/|v/)?{_KEY}/?$"],
    index=[
        r"^/archive(?:/[\w+-]+)?/?$",
        r"^/(?:u|user|users)/[\w.-]+(?:/\d+)?/?$",
        r"^/(?:trends|trending|latest|recent)/?$",
    ],
    listing_id=[rf"^/(?:paste/|p/|view/|v/|raw/|dl/|download/)?({_KEY})/?$"],
    generic_rules=False,
)
