"""The site engines bioleak recognises. Adding one: a module with an `ENGINE` and a line here."""

from crawlers.engines import (
    discourse,
    discuz,
    faka,
    flarum,
    invision,
    mybb,
    osclass,
    paste,
    phpbb,
    shopify,
    telegram,
    vbulletin,
    woocommerce,
    xenforo,
)
from crawlers.engines.base import GENERIC, Engine

# Most distinctive signatures first: a forum that embeds a shop widget is still a forum.
ENGINES: tuple[Engine, ...] = (
    discuz.ENGINE,
    phpbb.ENGINE,
    xenforo.ENGINE,
    vbulletin.ENGINE,
    mybb.ENGINE,
    invision.ENGINE,
    discourse.ENGINE,
    flarum.ENGINE,
    telegram.ENGINE,
    osclass.ENGINE,
    woocommerce.ENGINE,
    shopify.ENGINE,
    faka.ENGINE,
)
BY_NAME: dict[str, Engine] = {e.name: e for e in (*ENGINES, paste.ENGINE, GENERIC)}

__all__ = ["BY_NAME", "ENGINES", "GENERIC", "Engine"]
