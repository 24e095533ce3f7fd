"""Classification of listings: face_data_sale, over_face_tool, tutorial or benign.

A linear model (scikit-learn's logistic regression) reads three kinds of features:
- character n-grams of the squeezed text (Chinese words, and obfuscations such as "人-脸 数.据"
  or "l i v e n e s s" read like the plain words),
- word n-grams of the text (English and pinyin),
- hand-written evidence (pipeline/evidence.py): what is offered, how (prices per unit, counts,
  samples, contacts), what for (bypass, injection, face swap), taught or sold, and the decoys'
  context (cosmetics, research, news, vendors, jobs), plus the source's declared topic.
It is trained on the labelled corpus bioleak ships (pipeline/corpus/), reproducibly: the same
corpus gives the same model and the same predictions. A listing the model is unsure about is
marked `needs_review` rather than passed off as certain.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.entities import Entities, extract_entities
from pipeline.evidence import COMBINATIONS, FAMILIES, Reading, gather, read, squeeze
from pipeline.models import CATEGORIES, TOPICS, Category

__all__ = ["Classification", "Classifier", "Entities", "classify", "detect_lang", "extract_entities", "squeeze"]

MODEL_VERSION = 2
N_FEATURES = 1 << 18
TEXT_CHARS = 3000  # of a listing's text read by the model: what is on offer is said early
# Below this probability of its category, or this close to the runner-up, a listing needs review.
TITLE_ONLY_COPIES = True
REVIEW_PROBABILITY = 0.6
REVIEW_MARGIN = 0.2
# How a source's declared topic shifts the odds of each category (multiplied into the model's
# probabilities, which were learned with no topic at all).
TOPIC_PRIOR: dict[str, dict[str, float]] = {
    "face_data": {"face_data_sale": 2.0, "over_face_tool": 1.2, "tutorial": 1.2, "benign": 0.6},
    "tools": {"face_data_sale": 1.2, "over_face_tool": 2.0, "tutorial": 1.3, "benign": 0.6},
    "tutorials": {"face_data_sale": 1.0, "over_face_tool": 1.2, "tutorial": 2.0, "benign": 0.7},
    "general": {},
}
EVIDENCE_FEATURES: tuple[str, ...] = (
    *(f"family:{f}" for f in FAMILIES),
    *(f"title:{f}" for f in FAMILIES),
    "has_price", "has_unit_price", "has_subscription", "crypto_price", "has_quantity", "bulk_quantity",
    "data_quantity", "has_contact", "private_contact",
    *(f"topic:{t}" for t in TOPICS),
    *COMBINATIONS,
)  # fmt: skip
EVIDENCE_WEIGHT = 0.5  # evidence columns' scale next to the l2-normalised n-gram rows
INVERSE_REGULARISATION = 8.0  # logistic regression's C


_DIGITS = re.compile(r"\d+")


def prepare(reading: Reading) -> tuple[str, str]:
    """(squeezed, words): the text as the character and the word n-grams read it, the title
    twice (it says what is on offer). Numbers are one symbol: "10万张" and "3万张" say the same
    thing, and which number it is says nothing."""
    title, body = reading.title_squeezed, reading.body_squeezed[:TEXT_CHARS]
    squeezed = _DIGITS.sub("0", f"{title}{title}{body}")
    words = _DIGITS.sub("0", f"{reading.title}\n{reading.title}\n{reading.body[:TEXT_CHARS]}")
    return squeezed, words


@dataclass(frozen=True)
class Classification:
    category: Category
    score: float  # 0..1: the model's probability of the category
    evidence: tuple[str, ...]  # the hand-written evidence found, then what tipped the model
    needs_review: bool = False
    probabilities: tuple[tuple[str, float], ...] = field(default=(), compare=False)


_WORD_RE = re.compile(r"[a-z0-9][a-z0-9_']+")
_EVIDENCE_INDEX = {name: i for i, name in enumerate(EVIDENCE_FEATURES)}
WIDTH = 2 * N_FEATURES + len(EVIDENCE_FEATURES)


def _grams(squeezed: str, words: str) -> tuple[list[str], list[str]]:
    """Character bigrams and trigrams of the squeezed text (a Chinese word is one or the other);
    word unigrams and bigrams of the text."""
    chars = [squeezed[i : i + n] for n in (2, 3) for i in range(len(squeezed) - n + 1)]
    tokens = _WORD_RE.findall(words)
    return chars, tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


_COLUMNS: dict[str, int] = {}  # n-gram -> column: most n-grams come back in every listing
_COLUMNS_MAX = 1 << 20


def _column(gram: str) -> int:
    column = _COLUMNS.get(gram)
    if column is None:
        if len(_COLUMNS) >= _COLUMNS_MAX:  # bounded: a flood of junk text only costs re-hashing
            _COLUMNS.clear()
        column = _COLUMNS[gram] = zlib.crc32(gram.encode("utf-8")) % N_FEATURES
    return column


def _block(grams: list[str], offset: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Hashed counts of n-grams, l2-normalised, as (column indices, values). CRC-32: the same
    column for the same n-gram in every process and on every machine."""
    if not grams:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    counts = Counter(grams)  # counted at C speed, then each distinct n-gram looked up once
    known = list(map(_COLUMNS.get, counts))
    if None in known:
        known = [c if c is not None else _column(g) for c, g in zip(known, counts, strict=True)]
    columns = np.array(known, dtype=np.int64) + offset
    values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    return columns, values / np.sqrt((values * values).sum())


def featurise(doc: tuple[str, str, dict[str, float]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One document's features: [char n-grams | word n-grams | evidence], sparse."""
    chars, words = _grams(doc[0], doc[1])
    c_cols, c_vals = _block(chars, 0)
    w_cols, w_vals = _block(words, N_FEATURES)
    e = [(2 * N_FEATURES + _EVIDENCE_INDEX[k], v * EVIDENCE_WEIGHT) for k, v in doc[2].items() if k in _EVIDENCE_INDEX]
    e_cols = np.array([c for c, _ in e], dtype=np.int64)
    e_vals = np.array([v for _, v in e], dtype=np.float64)
    return np.concatenate([c_cols, w_cols, e_cols]), np.concatenate([c_vals, w_vals, e_vals])


class Classifier:
    """The trained model: the features are hashed (no vocabulary), so the model is its weights."""

    def __init__(
        self, coef: npt.NDArray[np.float64], intercept: npt.NDArray[np.float64], classes: Sequence[str]
    ) -> None:
        self.coef = coef
        self.intercept = intercept
        self._weights = np.ascontiguousarray(coef.T)  # (features x classes): a row's columns index it
        self.classes: tuple[Category, ...] = tuple(classes)  # type: ignore[arg-type]

    @staticmethod
    def matrix(docs: Sequence[tuple[str, str, dict[str, float]]]) -> Any:
        from scipy.sparse import csr_matrix

        rows = [featurise(d) for d in docs]
        indptr = np.cumsum([0, *(len(c) for c, _ in rows)])
        columns = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
        values = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
        return csr_matrix((values, columns, indptr), shape=(len(docs), WIDTH))

    @staticmethod
    def document(
        title: str, text: str, entities: Entities | None, topic: str = ""
    ) -> tuple[str, str, dict[str, float]]:
        reading = read(title, text)
        squeezed, words = prepare(reading)
        return squeezed, words, gather(title, text, entities, topic=topic, reading=reading).features

    # --- training ---------------------------------------------------------------------------------

    @classmethod
    def train(cls, docs: Sequence[tuple[str, str, dict[str, float]]], labels: Sequence[str]) -> Classifier:
        """Deterministic: the same documents and labels give the same weights."""
        from sklearn.linear_model import LogisticRegression

        rows = cls.matrix(docs)
        # Only the columns some document uses: the hashing space is mostly empty, and the solver
        # would spend its time on the zeros.
        used = np.unique(rows.indices)
        model = LogisticRegression(C=INVERSE_REGULARISATION, class_weight="balanced", max_iter=5000, tol=1e-6)
        model.fit(rows[:, used], list(labels))
        coef = np.zeros((model.coef_.shape[0], WIDTH))
        coef[:, used] = model.coef_
        return cls(coef, model.intercept_, [str(c) for c in model.classes_])

    # --- prediction -------------------------------------------------------------------------------

    def probabilities(self, doc: tuple[str, str, dict[str, float]]) -> npt.NDArray[np.float64]:
        columns, values = featurise(doc)
        scores = values @ self._weights[columns] + self.intercept
        exp = np.exp(scores - scores.max())
        probabilities: npt.NDArray[np.float64] = exp / exp.sum()
        return probabilities

    def classify_many(
        self, listings: Sequence[tuple[str, str, Entities | None]], *, topic: str = ""
    ) -> list[Classification]:
        prior = TOPIC_PRIOR.get(topic) or {}
        prior_factors = np.array([prior.get(c, 1.0) for c in self.classes])
        out = []
        for title, text, entities in listings:
            reading = read(title, text)
            squeezed, words = prepare(reading)
            found = gather(title, text, entities, topic=topic, reading=reading)
            p = self.probabilities((squeezed, words, found.features))
            if prior:
                p = p * prior_factors
                p = p / p.sum()
            order = np.argsort(-p)
            best, second = float(p[order[0]]), float(p[order[1]]) if len(order) > 1 else 0.0
            evidence = (*found.terms, *((f"source topic: {topic}",) if topic and topic != "general" else ()))
            review = best < REVIEW_PROBABILITY or best - second < REVIEW_MARGIN
            out.append(Classification(
                self.classes[int(order[0])], round(best, 3), evidence, review,
                tuple((c, round(float(v), 3)) for c, v in zip(self.classes, p, strict=True)),
            ))  # fmt: skip
        return out

    def explain(
        self, title: str, text: str, entities: Entities | None = None, *, top: int = 8
    ) -> list[tuple[str, float]]:
        """The features that weighed most towards the listing's category, with their weight:
        evidence by name, n-grams as the text spells them."""
        doc = self.document(title, text, entities)
        category = int(np.argmax(self.probabilities(doc)))
        columns, values = featurise(doc)
        weight = dict(zip(columns.tolist(), (values * self._weights[columns, category]).tolist(), strict=True))
        named: dict[str, float] = {}
        chars, words = _grams(doc[0], doc[1])
        for grams, offset in ((chars, 0), (words, N_FEATURES)):
            for gram in set(grams):
                if len(gram.strip()) >= 2:
                    named[gram] = weight.get(_column(gram) + offset, 0.0)
        for name in doc[2]:
            if name in _EVIDENCE_INDEX:
                named[name] = weight.get(2 * N_FEATURES + _EVIDENCE_INDEX[name], 0.0)
        return sorted(named.items(), key=lambda kv: -kv[1])[:top]

    # --- storage (numbers only: no pickle) --------------------------------------------------------

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"coef": self.coef.astype(np.float32), "intercept": self.intercept,
                "classes": np.array(self.classes), "version": np.array([MODEL_VERSION])}  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]]) -> Classifier:
        if int(arrays["version"][0]) != MODEL_VERSION:
            raise ValueError(
                f"classifier model version {int(arrays['version'][0])}, this bioleak reads {MODEL_VERSION}"
            )
        return cls(arrays["coef"].astype(np.float64), arrays["intercept"], [str(c) for c in arrays["classes"]])


def training_set(styles: Sequence[str] | None = None) -> tuple[list[tuple[str, str, dict[str, float]]], list[str]]:
    from pipeline.corpus import load_corpus

    docs: list[tuple[str, str, dict[str, float]]] = []
    labels: list[str] = []
    for item in load_corpus(list(styles) if styles else None):
        channel = "telegram" if "telegram" in item.style else ""
        entities = extract_entities(f"{item.title}\n{item.text}", channel=channel)
        docs.append(Classifier.document(item.title, item.text, entities))
        labels.append(item.category)
        # Its title alone as well: many posts are a title and a price, or only a title, and a
        # model that has only seen whole listings reads a short one as nothing (benign).
        if item.text.strip() and TITLE_ONLY_COPIES:
            title_entities = extract_entities(item.title, channel=channel)
            docs.append(Classifier.document(item.title, "", title_entities))
            labels.append(item.category)
    return docs, labels


def corpus_fingerprint() -> str:
    """What the shipped model is built from: the corpus files and the code that reads them
    (features, evidence, entities), so a cached model is never one of another version."""
    import hashlib
    from importlib import resources

    digest = hashlib.sha256(f"model {MODEL_VERSION}".encode())
    package = resources.files("pipeline")
    for name in ("classify.py", "evidence.py", "entities.py", "corpus.py"):
        digest.update(name.encode() + b"\0" + package.joinpath(name).read_bytes())
    folder = package.joinpath("corpus")
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml")):
        digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The model trained on the shipped corpus, built once per process (a second or two);
    crawlers/classifier.py keeps a copy on disk so a crawl process loads it instead."""
    return Classifier.train(*training_set())


_installed: list[Classifier] = []


def install(classifier: Classifier) -> None:
    """Use `classifier` for `classify` in this process (a copy loaded from disk)."""
    _installed[:] = [classifier]


def classify(title: str, text: str, entities: Entities | None = None, *, topic: str = "") -> Classification:
    model = _installed[0] if _installed else default_classifier()
    if entities is None:
        entities = extract_entities(f"{title}\n{text}")
    if not squeeze(title + text):
        return Classification("benign", 1.0, (), False)
    return model.classify_many([(title, text, entities)], topic=topic)[0]


def detect_lang(text: str) -> str:
    """ "zh" when a real share of the letters are CJK ideographs, "en" for Latin text, else ""."""
    cjk = latin = 0
    for ch in text[:5000]:
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            cjk += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if cjk and cjk * 3 >= latin:  # one ideograph carries about a word: weigh them up
        return "zh"
    return "en" if latin else ""


CATEGORY_NAMES: tuple[Category, ...] = CATEGORIES
