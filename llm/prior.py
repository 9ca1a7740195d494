"""The cold-start classifier: what a tenant gets before its staff have corrected anything.

Each category is known by its starter examples (short reports in residents' words, which
staff may edit) and by its name and description. A report goes to the category whose
closest examples are closest to it in meaning (the mean cosine of its three nearest), so
"dude camping in the alley with a shopping cart" finds "Homeless encampment on the
sidewalk" though they share no word. Deterministic: the same text and categories always
give the same answer, and the answer names the example it leaned on.

Needs the embedding model (llm.embeddings); without it `classify_prior` answers None and
the keyword classifier speaks.
"""

from functools import lru_cache

import numpy as np

from llm import embeddings
from llm.offline import rule_severity, summarise
from llm.types import CategoryInfo, Classification

CLASSIFIER_NAME = "offline-prior-v1"
# How many of a category's nearest examples are averaged: one would let a single odd
# example decide; three scored best on the development file (0.65 against 0.63 for one
# and 0.64 for five).
NEAREST = 3
# Softmax temperature turning the categories' scores into a confidence. Cosines between
# short texts spread over a few tenths, so differences are sharpened to probabilities.
TEMPERATURE = 0.05
# Category sets remembered per process (a tenant's categories change rarely; each entry
# is a few hundred vectors).
_CACHE_SIZE = 64

_CategoryKey = tuple[tuple[str, str, str, tuple[str, ...]], ...]


def _category_key(categories: list[CategoryInfo]) -> _CategoryKey:
    return tuple((c.code, c.name, c.description, c.examples) for c in categories)


@lru_cache(maxsize=_CACHE_SIZE)
def _prototypes(key: _CategoryKey) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """Every example's vector, the index of its category, and the example texts."""
    texts: list[str] = []
    owners: list[int] = []
    for index, (_, name, description, examples) in enumerate(key):
        own = [e for e in examples if e.strip()]
        own.append(f"{name}. {description}" if description else name)
        texts += own
        owners += [index] * len(own)
    vectors = embeddings.embed(texts)
    if vectors is None:
        return None
    return vectors, np.asarray(owners), tuple(texts)


def category_scores(
    vector: np.ndarray, categories: list[CategoryInfo]
) -> tuple[np.ndarray, list[int]] | None:
    """Each category's score (mean cosine of its NEAREST closest examples) and, for each,
    the index of its closest example; None without the model."""
    prototypes = _prototypes(_category_key(categories))
    if prototypes is None:
        return None
    vectors, owners, _ = prototypes
    similarities = vectors @ vector
    scores = np.full(len(categories), -1.0)
    nearest = [0] * len(categories)
    for index in range(len(categories)):
        mine = np.flatnonzero(owners == index)
        ranked = mine[np.argsort(-similarities[mine], kind="stable")]
        scores[index] = float(similarities[ranked[:NEAREST]].mean())
        nearest[index] = int(ranked[0])
    return scores, nearest


def classify_prior(text: str, categories: list[CategoryInfo]) -> Classification | None:
    """The category whose examples are nearest in meaning, or None without the model, with
    no categories, or for a text with no words the model knows."""
    if not categories or not text.strip():
        return None
    vector = embeddings.embed_one(text)
    if vector is None or not np.any(vector):
        return None
    scored = category_scores(vector, categories)
    if scored is None:
        return None
    scores, _ = scored
    weights = np.exp((scores - scores.max()) / TEMPERATURE)
    probabilities = weights / weights.sum()
    best = int(np.argmax(scores))
    category = categories[best]
    return Classification(
        category=category.code,
        severity=rule_severity(text, category),
        summary=summarise(text),
        confidence=round(float(probabilities[best]), 3),
        classifier=CLASSIFIER_NAME,
    )
