"""The Elasticsearch store through a server restart: a private server, stopped and started again
while a batch is being written. Nothing may be lost: each document lands or is reported."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.es_store import ElasticsearchStore
from indexer.store import SearchQuery, WriteResult
from tests.conftest import ES_SCRIPT
from tests.factories import make_listing


class PrivateServer:
    def __init__(self) -> None:
        # Under /var/tmp, not pytest's tmp_path: the server's own user must be able to reach it.
        self.home = Path(tempfile.mkdtemp(prefix="bioleak-es-restart-", dir="/var/tmp"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env = {**os.environ, "BIOLEAK_ES_HOME": str(self.home), "BIOLEAK_ES_PORT": str(port)}
        self.url = ""

    def run(self, command: str) -> None:
        proc = subprocess.run(
            ["bash", str(ES_SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=900
        )
        if proc.returncode != 0:
            pytest.fail(f"elasticsearch.sh {command} failed:\n{proc.stderr[-3000:]}", pytrace=False)
        if command == "start":
            self.url = proc.stdout.strip().splitlines()[-1]


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    srv = PrivateServer()
    try:
        srv.run("start")
        yield srv
    finally:
        srv.run("stop")
        shutil.rmtree(srv.home, ignore_errors=True)


def poll(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_write_during_a_restart_lands_when_the_server_is_back(server: PrivateServer) -> None:
    store = ElasticsearchStore(server.url, prefix="restart", outage_seconds=600)
    try:
        before = [make_listing(i) for i in range(40)]
        during = [make_listing(100 + i) for i in range(40)]
        assert store.upsert_listings(before).written == 40

        server.run("stop")
        result: list[WriteResult] = []
        writer = threading.Thread(target=lambda: result.append(store.upsert_listings(during)))
        writer.start()
        poll(lambda: store.outages > 0, timeout=120)  # the writer has found the server away
        server.run("start")
        writer.join(timeout=600)

        assert result and (result[0].written, result[0].failed) == (40, 0)
        store.refresh()
        assert store.search(SearchQuery(limit=0)).total == 80
        assert all(store.get_listing(listing.id) == listing for listing in during)
    finally:
        store.close()


def test_a_server_that_stays_away_gets_every_document_reported(server: PrivateServer) -> None:
    store = ElasticsearchStore(server.url, prefix="away", outage_seconds=3)
    try:
        server.run("stop")
        listings = [make_listing(i) for i in range(30)]
        result = store.upsert_listings(listings)
        assert (result.written, result.failed) == (0, 30)
        assert len(result.errors) == 30 and all("unreachable" in e or "Connection" in e for e in result.errors)
    finally:
        store.close()
