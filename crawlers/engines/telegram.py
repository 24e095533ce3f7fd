"""Telegram public channel previews (t.me/s/CHANNEL and the mirrors that copy its markup)."""

from crawlers.engines.base import engine

ENGINE = engine(
    "telegram",
    signatures=[r"tgme_widget_message|tgme_channel_info|tme_messages_more"],
    ignore=[r"(?:^|/)(?:joinchat|addstickers|share|proxy|socks|login|setlanguage|addtheme|\+)", r"[?&]q="],
    listing=[r"^/(?:s/)?[A-Za-z][\w]{3,31}/\d+(?:\?|$)"],
    index=[r"^/s/[A-Za-z][\w]{3,31}/?(?:\?(?:before|after)=\d+)?$"],
    listing_id=[r"^/(?:s/)?([A-Za-z][\w]{3,31}/\d+)"],
    generic_rules=False,
)
