"""The classifier a crawl uses: trained from the corpus bioleak ships (pipeline/classify.py) and
kept on disk by the corpus's fingerprint, so each crawl process loads its weights (numbers only,
no pickle) in a fraction of a second instead of training for several. A cache that is missing,
unreadable or from another corpus is rebuilt."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from pipeline.classify import Classifier, corpus_fingerprint, default_classifier

log = logging.getLogger(__name__)


def cache_path(directory: str = "") -> Path:
    base = Path(directory or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    if not directory:
        base = base / "bioleak"
    return base / f"classifier-{corpus_fingerprint()[:16]}.npz"


def cached_classifier(directory: str = "") -> Classifier:
    path = cache_path(directory)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return Classifier.from_arrays(dict(arrays))
    except (OSError, ValueError, KeyError) as exc:
        if path.exists():
            log.warning("classifier cache %s unreadable (%s): rebuilding it", path, exc)
    classifier = default_classifier()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            np.savez(tmp, **classifier.to_arrays())  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        Path(tmp.name).replace(path)
    except OSError as exc:  # a read-only home: the crawl goes on with the model in memory
        log.warning("classifier cache %s not written (%s)", path, exc)
    return classifier
