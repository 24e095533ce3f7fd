"""The demo black market: a Chinese marketplace and an English forum, and what is true about them.

Two organisations enrol originals; transformed copies of some of them are offered for sale next
to unrelated images, tools, tutorials and harmless decoys. Everything is generated from seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from html import escape

from bioleak.demo.images import leaked_copy, portrait, to_bytes
from bioleak.demo.server import Page
from pipeline.models import Category

ORGS: dict[str, tuple[str, ...]] = {
    "acme-bank": ("security@acme-bank.example",),
    "pixelpay": ("soc@pixelpay.example", "privacy@pixelpay.example"),
}
# org -> ref -> seed of the original image the organisation protects
ORIGINALS: dict[str, dict[str, int]] = {
    "acme-bank": {"acme-0001": 11, "acme-0002": 12, "acme-0003": 13, "acme-0004": 14},
    "pixelpay": {"pix-a17": 21, "pix-b42": 22, "pix-c99": 23},
}
_SEED_OF = {ref: seed for refs in ORIGINALS.values() for ref, seed in refs.items()}
_ORG_OF = {ref: org for org, refs in ORIGINALS.items() for ref in refs}


@dataclass(frozen=True)
class DemoImage:
    name: str  # served at /img/<name>
    leaked_ref: str | None = None  # registry ref this is a copy of, or None if unrelated
    transform: str = ""
    unrelated_seed: int = 0
    raw: bytes | None = None  # served as-is (hostile cases)

    @property
    def expected(self) -> tuple[str, str] | None:
        return (_ORG_OF[self.leaked_ref], self.leaked_ref) if self.leaked_ref else None

    def data(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.leaked_ref:
            return leaked_copy(portrait(_SEED_OF[self.leaked_ref]), self.transform)
        return to_bytes(portrait(self.unrelated_seed), "JPEG", quality=85)


def leak(name: str, ref: str, transform: str) -> DemoImage:
    return DemoImage(name=f"{name}.jpg", leaked_ref=ref, transform=transform)


def other(name: str, seed: int) -> DemoImage:
    return DemoImage(name=f"{name}.jpg", unrelated_seed=seed)


@dataclass(frozen=True)
class DemoListing:
    site: str  # "market" or "forum"
    path: str
    title: str
    body: str
    category: Category
    images: tuple[DemoImage, ...] = ()
    extra_image_urls: tuple[str, ...] = ()  # absolute URLs the crawler must refuse


LISTINGS: tuple[DemoListing, ...] = (
    DemoListing(
        "market",
        "/item/1001.html",
        "出售口罩人脸数据 10万张 高清",
        "口罩人脸照片，10万张，0.2元/张，支持验货。批量优惠。联系 QQ: 2874561032 微信: facedata_cn",
        "face_data_sale",
        (
            leak("m1001-a", "acme-0001", "jpeg_q40"),
            leak("m1001-b", "acme-0002", "resize_50"),
            other("m1001-c", 501),
        ),
    ),
    DemoListing(
        "market",
        "/item/1002.html",
        "实名四件套 手持身份证+自拍 现货",
        "四件套：身份证正反面、手持身份证、自拍照。5元/套，500套起。飞机 @sfz_pack_shop 扣扣 1938475620",
        "face_data_sale",
        (
            leak("m1002-a", "pix-a17", "watermark"),
            leak("m1002-b", "pix-b42", "mirror"),
            other("m1002-c", 502),
        ),
    ),
    DemoListing(
        "market",
        "/item/1003.html",
        "人脸照片打包 1.2w张 各年龄段",
        "人 脸 照 片 打包出售，共1.2w张，￥800 全部带走。V信: face_bank_2024",
        "face_data_sale",
        (leak("m1003-a", "acme-0003", "grayscale"), other("m1003-b", 503)),
    ),
    DemoListing(
        "market",
        "/item/1004.html",
        "过人脸软件 刷脸 过活体 稳定版",
        "照片活化，换脸，过活体检测，支持各大平台刷脸认证。软件 300元 一套，包更新。QQ: 3948571620",
        "over_face_tool",
        (other("m1004-a", 504),),
    ),
    DemoListing(
        "market",
        "/item/1005.html",
        "过人脸教程 视频教学 新手可学",
        "详细步骤教程：如何用照片过活体、过人脸。视频教学 50元。微信: jiaocheng_88",
        "tutorial",
    ),
    DemoListing(
        "market",
        "/item/1006.html",
        "保湿面霜 护肤套装 正品",
        "温和保湿面霜，适合干性皮肤，护肤必备。洗面奶买二送一。",
        "benign",
        (other("m1006-a", 506),),
    ),
    DemoListing(
        "forum",
        "/thread/2001",
        "Liveness bypass tool v3 - virtual camera for any KYC",
        "Selling my liveness bypass: virtual camera + photo animation, works on banking apps. "
        "$300 lifetime, USDT accepted. Telegram: t.me/livebypass_v3",
        "over_face_tool",
        (other("f2001-a", 601),),
        ("http://169.254.169.254/latest/meta-data/preview.jpg",),
    ),
    DemoListing(
        "forum",
        "/thread/2002",
        "Tutorial: how to pass selfie liveness step by step",
        "Step by step guide to over face checks with photo animation and a virtual camera. "
        "Free for members, donations to btcpay@example.org",
        "tutorial",
    ),
    DemoListing(
        "forum",
        "/thread/2003",
        "Selfie with ID packs - fresh face data - 500 sets",
        "KYC pack: ID card front/back + selfie with ID. 500 sets, $4 per pack, bulk $1500 total. "
        "Contact telegram @kyc_packs_daily or kycpacks@protonmail.example",
        "face_data_sale",
        (
            leak("f2003-a", "pix-c99", "jpeg_q40"),
            leak("f2003-b", "acme-0004", "crop_3"),
            other("f2003-c", 603),
        ),
    ),
    DemoListing(
        "forum",
        "/thread/2004",
        "Best face cream for dry winter skin?",
        "Looking for a moisturizer recommendation, my face gets dry. Any skincare tips?",
        "benign",
        (
            other("f2004-a", 604),
            DemoImage(name="f2004-broken.jpg", raw=b"<html><body>hotlink denied</body></html>"),
        ),
    ),
    DemoListing(
        "forum",
        "/thread/2005",
        "Face recognition research: new benchmark paper",
        "Our university lab released a paper on face recognition robustness; the face dataset is "
        "licensed for research only. Conference talk next month.",
        "benign",
        (other("f2005-a", 605),),
    ),
    DemoListing(
        "forum",
        "/thread/2006",
        "Face wash recommendations <script>alert(1)</script>",
        "Which face wash do you use? <b>mine</b> is cheap.",
        "benign",
    ),
)

# Pagination: the marketplace lists four items per page.
MARKET_PAGE_SIZE = 4


def _market_page(title: str, body: str) -> Page:
    html = (
        "<!DOCTYPE html><html><head><meta charset='gbk'>"
        f"<title>{escape(title)} - 黑市</title></head><body>{body}</body></html>"
    )
    return Page(html.encode("gbk"), "text/html; charset=gbk")


def _forum_page(title: str, body: str) -> Page:
    html = f"<!DOCTYPE html><html><head><title>{escape(title)} - Forum</title></head><body>{body}</body></html>"
    return Page(html.encode("utf-8"))


def _listing_body(item: DemoListing) -> str:
    imgs = "".join(f'<img class="photo" src="/img/{i.name}" alt="sample">' for i in item.images)
    imgs += "".join(f'<img class="photo" src="{escape(u)}" alt="preview">' for u in item.extra_image_urls)
    # Titles are stored HTML-escaped in the page, as a real site would: the crawler sees the
    # literal text, including any <script>, and must never render it unescaped.
    return (
        f'<div class="post"><h1 class="title">{escape(item.title)}</h1>'
        f'<div class="content">{escape(item.body)}</div><div class="gallery">{imgs}</div></div>'
    )


ROBOTS = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")


@cache
def site_pages(site: str) -> dict[str, Page]:
    items = [i for i in LISTINGS if i.site == site]
    page_of = _market_page if site == "market" else _forum_page
    pages: dict[str, Page] = {"/robots.txt": ROBOTS}
    chunks = [items[i : i + MARKET_PAGE_SIZE] for i in range(0, len(items), MARKET_PAGE_SIZE)]
    index_path = "/list/{n}.html" if site == "market" else "/forum/page/{n}"
    for n, chunk in enumerate(chunks, start=1):
        links = "".join(f'<li><a class="item" href="{i.path}">{escape(i.title)}</a></li>' for i in chunk)
        nav = f'<a class="next" href="{index_path.format(n=n + 1)}">下一页 next</a>' if n < len(chunks) else ""
        pages[index_path.format(n=n)] = page_of(f"page {n}", f"<ul>{links}</ul>{nav}")
    for item in items:
        pages[item.path] = page_of(item.title, _listing_body(item))
        for image in item.images:
            pages[f"/img/{image.name}"] = Page(image.data(), "image/jpeg")
    return pages


def start_path(site: str) -> str:
    return "/list/1.html" if site == "market" else "/forum/page/1"


SELECTORS = {
    "listing_links": "a.item::attr(href)",
    "next_page": "a.next::attr(href)",
    "title": "h1.title::text",
    "text": "div.content ::text",
    "images": "img.photo::attr(src)",
}


def expected_categories() -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in LISTINGS:
        counts[item.category] = counts.get(item.category, 0) + 1
    return counts


def expected_matches() -> dict[str, set[tuple[str, str]]]:
    """image name -> {(org, ref)} for every leaked copy in the market."""
    return {i.name: {i.expected} for item in LISTINGS for i in item.images if i.expected is not None}
