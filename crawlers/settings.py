"""Scrapy settings for bioleak crawls. bioleak's own settings are prefixed BIOLEAK_."""

BOT_NAME = "bioleak"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = "bioleak (+threat-intelligence crawler)"
ROBOTSTXT_OBEY = True  # sources may override, and the override is logged
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts this many asyncio tasks for the output of *every* response. Our pages yield one
# listing (a channel page ~20), so 100 mostly idle tasks per page cost the reactor more than the
# page itself: 8 took the crawl benchmark from 70 to 87 listings/s and 346 to 241 MiB.
CONCURRENT_ITEMS = 8
# Scrapy keeps fetching pages while up to 5 MB of responses wait in the item pipelines, i.e.
# thousands of small listing pages whose images are still queued: the crawl then ran in two
# phases, first pages with the hashing workers half idle, then images with the reactor half
# idle. With ~64 listings waiting (and 48 images in flight, BIOLEAK_IMAGES_IN_FLIGHT) both
# stay busy at once: the crawl benchmark went from 67.2 to 78.8 listings/s (means of three
# alternating 2,000-listing runs: 68.6/64.2/68.8 against 79.9/72.3/84.2), and a backlog's
# memory is bounded.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 64 * 1024
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
# One retry: a page that timed out or failed once mostly does so again, and a hostile slow page
# should cost a crawl two download timeouts, not three.
RETRY_TIMES = 1
REDIRECT_MAX_TIMES = 5
METAREFRESH_MAXDELAY = 100
DEPTH_LIMIT = 8
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening ports in a process that reads criminals' pages
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Names resolve only to addresses the source may reach; connections use exactly that address.
TWISTED_DNS_RESOLVER = "crawlers.resolver.PublicOnlyResolver"
DNS_TIMEOUT = 15
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.SourceProxyMiddleware": 40,
    # Before everything that can issue or follow a request, so redirects are re-checked too.
    "crawlers.middlewares.SafeAddressMiddleware": 50,
    # Every middleware costs each request a hop on the reactor thread, and images are two thirds
    # of the requests. bioleak never sends HTTP credentials and reads no downloader byte counts:
    # without these two (and default headers) the crawl benchmark ran ~10% faster (60.1 -> 65.8,
    # 62.7 -> 69.4 listings/s, alternating runs).
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
}
DOWNLOADER = "crawlers.downloader.PoliteDownloader"  # holds each site to the source's concurrency
ITEM_PIPELINES = {
    "crawlers.pipelines.incremental.SkipUnchangedPipeline": 50,
    "crawlers.pipelines.classify.ClassifyPipeline": 100,
    "crawlers.pipelines.images.ImageHashPipeline": 200,
    "crawlers.pipelines.matching.MatchPipeline": 300,
    "crawlers.pipelines.thumbnails.ThumbnailPipeline": 350,
    "crawlers.pipelines.store.StorePipeline": 400,
    "crawlers.pipelines.incremental.MarkProcessedPipeline": 500,
}
EXTENSIONS = {
    "crawlers.extensions.StatsExport": 500,
    "crawlers.extensions.ProgressExport": 500,
    "crawlers.extensions.ParentWatch": 0,
    "crawlers.extensions.RootLogLevel": 0,
    "crawlers.extensions.CollectorTuning": 0,
}

# --- bioleak's own settings: every one is declared here, once, with its default ---------------
# What the crawl works on (set by `bioleak crawl`; a bare `scrapy crawl` needs the first two).
BIOLEAK_SOURCES = ""  # the sources.yaml file
BIOLEAK_SOURCE = ""  # the name of the source to crawl
BIOLEAK_REGISTRY = ""  # the protected registry (SQLite); empty: no matching
BIOLEAK_STATE = ""  # crawl state of earlier crawls (SQLite); empty: every listing is processed
BIOLEAK_STORE = ""  # a SQLite file or an Elasticsearch URL; empty: nothing is stored
BIOLEAK_ES_PREFIX = "bioleak"  # index prefix on Elasticsearch
BIOLEAK_STATS_FILE = ""  # the final stats as JSON, for `bioleak crawl` and the run history
BIOLEAK_PROGRESS_FILE = ""  # live counts (pages, listings, images, hits), rewritten every second
BIOLEAK_PARENT_PID = 0  # the `bioleak crawl` process: the crawl stops if it goes away
BIOLEAK_PROXY = ""  # set from the source's `proxy:`

BIOLEAK_GC_THRESHOLD = 20_000  # first-generation threshold of the garbage collector (0: Python's 700)
BIOLEAK_STORE_BATCH_SIZE = 64  # listings written per transaction / bulk request
BIOLEAK_STORE_BATCH_WAIT = 0.2  # seconds a listing waits for others to fill its batch

# Discovery and listings
BIOLEAK_ENGINES = (
    "auto"  # auto: recognise each site's engine (crawlers/engines/); generic: structure and URL rules only
)
BIOLEAK_CLASSIFIER_CACHE = ""  # directory of the trained classifier's weights (default ~/.cache/bioleak)
BIOLEAK_THREAD_PAGES = 20  # pages of one multi-page thread read into its listing
BIOLEAK_LISTING_IMAGES = 50  # image URLs kept per listing

BIOLEAK_IMAGES_ENABLED = True
BIOLEAK_IMAGE_MAX_BYTES = 20 * 1024 * 1024
BIOLEAK_IMAGE_MAX_PIXELS = 40_000_000
# Images downloaded or being hashed at once: bounds memory at this many times the image size cap.
# Each waits on the network, then on a worker: with too few, the workers idle between downloads
# (see SCRAPER_SLOT_MAX_ACTIVE_SIZE above).
BIOLEAK_IMAGES_IN_FLIGHT = 48
BIOLEAK_HASH_WORKERS = "auto"  # worker processes for decoding and hashing; 0: threads in the crawl process
BIOLEAK_FACE_DETECTION = "auto"  # auto: on listings classified as face-data sales; always; never
# A small JPEG of every image that matched the registry, kept as evidence (alerts attach it only
# with --attach-thumbnails); images that matched nothing are never kept.
BIOLEAK_THUMBNAILS = True
BIOLEAK_THUMBNAIL_SIZE = 160
