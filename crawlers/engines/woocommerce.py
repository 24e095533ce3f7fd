"""WooCommerce shops on WordPress: /shop/page/2/, /product-category/slug/, /product/slug/."""

from crawlers.engines.base import engine

ENGINE = engine(
    "woocommerce",
    signatures=[r"woocommerce|WooCommerce", r"wp-content/|wp-includes/"],
    min_signatures=2,
    ignore=[
        r"(?:^|/)(?:cart|checkout|my-account|wp-login\.php|wp-admin|wp-json|feed|xmlrpc\.php|comments/feed)(?:/|$)",
        r"[?&](?:add-to-cart|orderby|rating_filter|min_price|max_price|filter_[a-z_]+|replytocom|s)=",
        r"(?:^|/)(?:author)/",
    ],
    attachment=[r"(?:^|/)wp-content/uploads/"],
    listing=[r"(?:^|/)product/[^/?#]+", r"[?&](?:p|product)=[\w-]+"],
    index=[r"(?:^|/)(?:shop|store)/?(?:page/\d+/?)?$", r"(?:^|/)product-(?:category|tag)/", r"/page/\d+/?$"],
    listing_id=[r"/product/([^/?#]+)", r"[?&]product=([\w-]+)", r"[?&]p=(\d+)"],
    page_number=[r"/comment-page-(\d+)"],
    post_selectors=[
        ".product .summary",
        ".woocommerce-product-details__short-description",
        "#tab-description",
        ".woocommerce-Tabs-panel--description",
        ".woocommerce-Reviews .description",
    ],
)
