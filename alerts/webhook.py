"""Signed JSON webhooks: an alert POSTed to the organisation's own endpoint.

The receiver checks `X-Bioleak-Signature: sha256=HEX`, the HMAC-SHA256 with the shared secret
of `TIMESTAMP.BODY` (TIMESTAMP from `X-Bioleak-Timestamp`, unix seconds), and rejects old
timestamps, so a captured request cannot be replayed later. `X-Bioleak-Delivery` is stable for
the same hits: a retried delivery carries the same id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from alerts.smtp import PermanentSendError, TransientSendError


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the receiver's misconfiguration: reported, not followed


class WebhookSender:
    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, payload: dict[str, Any], delivery_id: str) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url, data=body, method="POST",
            headers={
                "Content-Type": "application/json", "User-Agent": "bioleak-webhook",
                "X-Bioleak-Timestamp": timestamp, "X-Bioleak-Signature": signature(self.secret, timestamp, body),
                "X-Bioleak-Delivery": delivery_id,
            },
        )  # fmt: skip
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            # 408, 429 and 5xx: the receiver may take it later; other 4xx and 3xx will not change.
            transient = exc.code in (408, 429) or exc.code >= 500
            error = TransientSendError if transient else PermanentSendError
            raise error(f"webhook {self.url}: HTTP {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise TransientSendError(f"webhook {self.url}: {exc}") from exc
