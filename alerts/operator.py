"""Notices to bioleak's operator (not to organisations): a source that keeps failing, and its
recovery. One message per streak, so a source that is down for a day is one email, not fifty."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from alerts.render import message_id


@dataclass(frozen=True)
class SourceNotice:
    source: str
    run: int  # the id of the run that triggered the notice
    kind: str  # failing | recovered
    failures: int  # consecutive failed runs (for a recovery: how many it took)
    last_status: str  # the status of the run that triggered the notice
    detail: str  # why the last run failed, or how the recovery run went
    log_file: str
    at: str  # ISO 8601 UTC


def render_notice(notice: SourceNotice, *, to: str, sender: str, domain: str) -> EmailMessage:
    if notice.kind == "failing":
        subject = f"[bioleak] source {notice.source} has failed {notice.failures} times in a row"
        lead = (
            f"The scheduled crawls of {notice.source} have failed {notice.failures} times in a row"
            f" (last: {notice.last_status}). bioleak keeps trying on schedule and will send one notice"
            " when it recovers; no further failure notices are sent for this streak."
        )
    else:
        subject = f"[bioleak] source {notice.source} is crawling again"
        lead = f"{notice.source} succeeded again after {notice.failures} failed run(s)."
    body = f"{lead}\n\nLast run: {notice.last_status} at {notice.at}\n{notice.detail}\nLog: {notice.log_file}\n"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    # Stable per notice (a retried send carries the same id) and keyed by run, not time: two runs
    # can finish within the same second, and the outbox must keep both notices.
    msg["Message-ID"] = message_id(f"operator/{notice.source}/{notice.kind}", [str(notice.run), notice.at], domain)
    msg["X-Bioleak-Org"] = "operator"
    msg.set_content(body)  # plain text only: nothing scraped is in it, but the detail may quote a page
    return msg
