from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.es_store import ElasticsearchStore
from indexer.sqlite_store import SqliteStore
from indexer.store import Store

REPO = Path(__file__).resolve().parent.parent
ES_SCRIPT = REPO / "scripts" / "elasticsearch.sh"

# The test server's URL is for the `es_url` fixture only. Every other BIOLEAK_* variable of the
# caller's shell is removed too, so the CLI and crawl subprocesses see only what a test sets.
ES_URL_FROM_ENV = os.environ.get("BIOLEAK_ES_URL")
for _name in [n for n in os.environ if n.startswith("BIOLEAK_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The real Elasticsearch: $BIOLEAK_ES_URL, else started here by scripts/elasticsearch.sh.

    Never skipped: if it cannot start, the tests that need it fail with the script's reason
    (missing java, mvn or network, or the server's own log)."""
    if ES_URL_FROM_ENV:
        yield ES_URL_FROM_ENV
        return
    already = subprocess.run(["bash", str(ES_SCRIPT), "status"], capture_output=True, text=True).returncode == 0
    proc = subprocess.run(["bash", str(ES_SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"Elasticsearch test server could not start:\n{proc.stderr[-3000:]}", pytrace=False)
    yield proc.stdout.strip().splitlines()[-1]
    if not already:
        subprocess.run(["bash", str(ES_SCRIPT), "stop"], capture_output=True, text=True)


@pytest.fixture
def es_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def es_store(es_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore(es_url, prefix=es_prefix)
    yield store
    store.drop()
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "store.sqlite3")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest) -> Store:
    """The Store contract is the same for both implementations: every contract test runs twice."""
    name = "sqlite_store" if request.param == "sqlite" else "es_store"
    result: Store = request.getfixturevalue(name)
    return result
