"""One short, countable reason for why a download failed, whatever layer raised it: the size cap
(announced by Content-Length, reached while streaming, or reached while decompressing), a
timeout, a refusal, the network. Pages and images are counted by the same names."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import defer, error
from twisted.web._newclient import ResponseFailed


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what caused it, and the failures a ResponseFailed wraps."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        link = todo.pop()
        if link is None or link in seen:
            continue
        seen.append(link)
        todo += [link.__cause__, link.__context__]
        if isinstance(link, ResponseFailed):
            todo += [getattr(f, "value", None) for f in link.reasons]
    return seen


def download_failure(exc: BaseException) -> str:
    chain = _chain(exc)
    if any(type(link).__name__ == "_DecompressionMaxSizeExceeded" for link in chain):
        return "too_large"
    if any(isinstance(link, DownloadCancelledError | defer.CancelledError) for link in chain):
        return "too_large"  # the downloader cancels a transfer only at the size cap
    if isinstance(exc, IgnoreRequest):
        return "refused"  # address policy, robots.txt, offsite: counted where decided
    if isinstance(exc, DownloadTimeoutError | error.TimeoutError | error.TCPTimedOutError | defer.TimeoutError):
        return "timeout"
    if isinstance(exc, DownloadConnectionRefusedError | error.ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, CannotResolveHostError | error.DNSLookupError):
        return "dns_failed"
    if isinstance(exc, ResponseDataLossError | ResponseFailed | error.ConnectionLost | error.ConnectionDone):
        return "connection_lost"
    return "download_failed"
