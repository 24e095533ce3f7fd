"""Chinese automatic card shops (自动发卡 / 发卡网: dujiaoka, ACG-faka, 彩虹发卡 and their skins):
a product grid with category tabs, product pages, site-wide customer-service contacts."""

from crawlers.engines.base import engine

ENGINE = engine(
    "faka",
    signatures=[
        r"自动发货|自动发卡|发卡网|卡密|dujiaoka|acg-?faka|彩虹发卡|独角数卡",
        r"/buy/\d+|/item/\d+|/goods/\d+|goods_id=\d+|库存",
    ],
    min_signatures=2,
    ignore=[
        r"(?:^|/)(?:order|orders|search|login|register|user|pay|cart|query|orderquery|check-order|admin)(?:/|$|\?|\.php)",
        r"[?&](?:sort|order|keyword|keywords)=",
    ],
    attachment=[r"(?:^|/)(?:uploads|upload|images|storage)/"],
    listing=[
        r"(?:^|/)(?:buy|item|goods|product|details?|shop/goods)/\d+",
        r"[?&](?:goods_id|gid|id)=\d+.*|(?:^|/)buy\.php\?",
    ],
    index=[r"[?&](?:cid|category|cate|page)=\d+", r"(?:^|/)(?:category|cate|class)/\d+"],
    listing_id=[r"/(?:buy|item|goods|product|details?)/(\d+)", r"[?&]goods_id=(\d+)"],
    post_selectors=[
        ".goods-desc",
        ".goods_desc",
        ".product-desc",
        ".description",
        "#description",
        ".buy-desc",
        ".card-body",
        ".goods-info",
        ".info",
    ],
)
