"""The cold-start classifier: what a tenant gets before its staff have corrected anything.

Each category is known by its starter examples (short reports in residents' words, which
staff may edit) and by its name and description. A report goes to the category whose
closest examples are closest to it (the mean similarity of its five nearest), so "dude
camping in the alley with a shopping cart" finds "Homeless encampment on the sidewalk"
though they share no word. Similarity is meaning (cosine of the embeddings) plus spelling
(cosine of character n-grams within words): most residents' reports are a few words,
often misspelled ("pot whole", "grafitti", "street ligth out"), and the n-grams tie them
to an example that the static embedding model reads poorly. Deterministic: the same
text and categories always give the same answer.

Needs the embedding model (llm.embeddings); without it `classify_prior` answers None and
the keyword classifier speaks.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

from llm import embeddings
from llm.offline import rule_severity, summarise
from llm.text_model import char_features
from llm.types import CategoryInfo, Classification

CLASSIFIER_NAME = "offline-prior-v1"
# How many of a category's nearest examples are averaged, and how much spelling counts
# beside meaning. Both chosen by cross-validation on sentences written by the team (each
# starter example classified by the others, and a file of other made-up reports), not on
# any city's data: 5 and 0.75 scored 0.845 and 0.911 there, against 0.814 and 0.901 for
# meaning alone over the three nearest (1.0 for spelling ties within a sentence).
NEAREST = 5
SPELLING_WEIGHT = 0.75
# Softmax temperature turning the categories' scores into a confidence. Similarities
# between short texts spread over a few tenths, so differences are sharpened.
TEMPERATURE = 0.05
# Category sets remembered per process (a tenant's categories change rarely; each entry
# is a few hundred vectors and their n-grams).
_CACHE_SIZE = 64

_CategoryKey = tuple[tuple[str, str, str, tuple[str, ...]], ...]


def _category_key(categories: list[CategoryInfo]) -> _CategoryKey:
    return tuple((c.code, c.name, c.description, c.examples) for c in categories)


def _tf(text: str) -> Counter[str]:
    """A text's character n-grams with their sublinear term frequency (1 + log count)."""
    return Counter({gram: 1 + math.log(count) for gram, count in Counter(char_features(text)).items()})


@dataclass(frozen=True)
class _Spelling:
    """TF-IDF over the examples' character n-grams: for each n-gram, its weight in each
    example (unit-length rows), as a sparse matrix with one row per n-gram."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    by_gram: sparse.csr_matrix

    @classmethod
    def fit(cls, texts: list[str]) -> "_Spelling":
        counts = [_tf(text) for text in texts]
        frequency = Counter(gram for count in counts for gram in count)
        vocabulary = {gram: index for index, gram in enumerate(frequency)}
        idf = np.asarray([math.log((1 + len(texts)) / (1 + df)) + 1 for df in frequency.values()])
        grams: list[int] = []
        owners: list[int] = []
        values: list[float] = []
        for owner, count in enumerate(counts):
            weights = {vocabulary[gram]: tf * idf[vocabulary[gram]] for gram, tf in count.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            grams += weights
            owners += [owner] * len(weights)
            values += [weight / norm for weight in weights.values()]
        by_gram = sparse.csr_matrix(
            (np.asarray(values, dtype=np.float32), (grams, owners)), shape=(len(vocabulary), len(texts))
        )
        return cls(vocabulary, idf, by_gram)

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine of each text (a row) with every example (a column); n-grams no example
        has are left out."""
        rows: list[int] = []
        grams: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for row, text in enumerate(texts):
            known = [(self.vocabulary[gram], tf) for gram, tf in _tf(text).items() if gram in self.vocabulary]
            if not known:
                continue
            index = np.asarray([gram for gram, _ in known])
            weights = np.asarray([tf for _, tf in known]) * self.idf[index]
            rows += [row] * len(known)
            grams.append(index)
            values.append(weights / math.sqrt(float(weights @ weights)))
        query = sparse.csr_matrix(
            (
                np.concatenate(values).astype(np.float32) if values else np.zeros(0, dtype=np.float32),
                (rows, np.concatenate(grams) if grams else np.zeros(0, dtype=np.intp)),
            ),
            shape=(len(texts), len(self.vocabulary)),
        )
        return (query @ self.by_gram).toarray()


@dataclass(frozen=True)
class _Prototypes:
    vectors: np.ndarray  # one unit vector per example
    spelling: _Spelling
    # Per category, the indices of its examples, padded with the index one past the last
    # example (a similarity of minus infinity), and how many of them its score averages.
    slots: np.ndarray
    nearest: np.ndarray


@lru_cache(maxsize=_CACHE_SIZE)
def _prototypes(key: _CategoryKey) -> _Prototypes | None:
    """Every example's vector and n-grams, and which examples are each category's."""
    texts: list[str] = []
    slots: list[list[int]] = []
    for _, name, description, examples in key:
        own = [e for e in examples if e.strip()]
        own.append(f"{name}. {description}" if description else name)
        slots.append(list(range(len(texts), len(texts) + len(own))))
        texts += own
    vectors = embeddings.embed(texts)
    if vectors is None:
        return None
    width = max(len(own) for own in slots)
    padded = np.asarray([own + [len(texts)] * (width - len(own)) for own in slots])
    nearest = np.asarray([min(len(own), NEAREST) for own in slots], dtype=np.float64)
    return _Prototypes(vectors, _Spelling.fit(texts), padded, nearest)


def _scores(texts: list[str], vectors: np.ndarray, prototypes: _Prototypes) -> np.ndarray:
    """Each text's (a row) score for each category (a column): the mean similarity of its
    NEAREST closest examples."""
    similarities = vectors @ prototypes.vectors.T + SPELLING_WEIGHT * prototypes.spelling.similarities(texts)
    padded = np.concatenate([similarities, np.full((len(texts), 1), -np.inf)], axis=1)
    closest = -np.sort(-padded[:, prototypes.slots], axis=2)[:, :, :NEAREST]
    return np.where(np.isfinite(closest), closest, 0.0).sum(axis=2) / prototypes.nearest


def classify_prior_many(texts: list[str], categories: list[CategoryInfo]) -> list[Classification | None]:
    """Each text's category, the one whose examples are nearest (None for every text
    without the model or with no categories, and for a text with no words the model
    knows), all compared in a few matrix products."""
    answers: list[Classification | None] = [None] * len(texts)
    wanted = [index for index, text in enumerate(texts) if text.strip()] if categories else []
    vectors = embeddings.embed_many([texts[index] for index in wanted]) if wanted else None
    prototypes = _prototypes(_category_key(categories)) if vectors is not None else None
    if vectors is None or prototypes is None:
        return answers
    known = [(index, vector) for index, vector in zip(wanted, vectors, strict=True) if np.any(vector)]
    if not known:
        return answers
    scores = _scores([texts[index] for index, _ in known], np.stack([v for _, v in known]), prototypes)
    for (index, _), row in zip(known, scores, strict=True):
        weights = np.exp((row - row.max()) / TEMPERATURE)
        best = int(np.argmax(row))
        category = categories[best]
        answers[index] = Classification(
            category=category.code,
            severity=rule_severity(texts[index], category),
            summary=summarise(texts[index]),
            confidence=round(float(weights[best] / weights.sum()), 3),
            classifier=CLASSIFIER_NAME,
        )
    return answers


def classify_prior(text: str, categories: list[CategoryInfo]) -> Classification | None:
    """The category whose examples are nearest, or None without the model, with no
    categories, or for a text with no words the model knows."""
    return classify_prior_many([text], categories)[0]
