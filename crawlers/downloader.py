"""PoliteDownloader: Scrapy's downloader, holding each site to its concurrency limit."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from scrapy.core.downloader import Downloader, Slot


class PoliteDownloader(Downloader):
    """Scrapy dispatches queued requests while its slot has free transfer places, but under the
    asyncio reactor a dispatched request takes its place only when its task first runs, after
    the dispatch loop is done: every queued request went out at once. A crawl of a source with
    `concurrency: 4` had 34 requests in flight to its site (and opened a connection for most).
    Here a request takes its place as it is dispatched; Scrapy frees it as before, once the
    download is over."""

    def _wait_for_download(self, slot: Slot, request: Any, queue_dfd: Any) -> Coroutine[Any, Any, None]:
        # A plain method, so this line runs inside the dispatch loop; the download runs later.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
