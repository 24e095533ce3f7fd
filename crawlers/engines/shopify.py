"""Shopify storefronts: /collections/slug?page=2, /products/slug, images on the shop's CDN."""

from crawlers.engines.base import engine

ENGINE = engine(
    "shopify",
    signatures=[r"cdn\.shopify\.com|Shopify\.shop|shopify-section"],
    ignore=[r"(?:^|/)(?:cart|checkout|account|search|policies|apps)(?:/|$|\?)", r"[?&](?:sort_by|variant|q)="],
    listing=[r"(?:^|/)products/[^/?#]+"],
    index=[r"(?:^|/)collections(?:/[^/?#]+)?/?(?:$|\?)"],
    listing_id=[r"/products/([^/?#]+)"],
    post_selectors=[".product__description", ".product-single__description", "[itemprop=description]", ".rte"],
)
