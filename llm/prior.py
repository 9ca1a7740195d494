"""The cold-start classifier: what a tenant gets before its staff have corrected anything.

Each category is known by its starter examples (short reports in residents' words, which
staff may edit) and by its name and description. A report goes to the category whose
closest examples are closest to it (the mean similarity of its five nearest), so "dude
camping in the alley with a shopping cart" finds "Homeless encampment on the sidewalk"
though they share no word. Similarity is meaning (cosine of the embeddings) plus spelling
(cosine of character n-grams within words): most residents' reports are a few words,
often misspelled ("pot whole", "grafitti", "street ligth out"), and the n-grams tie them
to an example that the static embedding model reads poorly. Beside that, a logistic
regression fitted on the same examples learns which n-grams and directions of meaning
tell the categories apart ("bar" says noise; "street", in many categories' examples,
says little), and the two distributions are mixed. Examples in Spanish answer
only reports that read as Spanish. Deterministic for a given BLAS thread count (the
workers run one): the same text and categories always give the same answer.

Needs the embedding model (llm.embeddings); without it `classify_prior` answers None and
the keyword classifier speaks.
"""

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, sparse

from civicpulse.core.language_guess import looks_spanish
from llm import embeddings
from llm.offline import rule_severity, summarise
from llm.text_model import EMBEDDING_WEIGHT, INVERSE_REGULARISATION, char_features
from llm.types import CategoryInfo, Classification

CLASSIFIER_NAME = "offline-prior-v2"
# How many of a category's nearest examples are averaged, and how much spelling counts
# beside meaning. Both chosen by cross-validation on sentences written by the team (each
# starter example classified by the others, and a file of other made-up reports), not on
# any city's data: 5 and 0.75 scored 0.845 and 0.911 there, against 0.814 and 0.901 for
# meaning alone over the three nearest (1.0 for spelling ties within a sentence).
NEAREST = 5
SPELLING_WEIGHT = 0.75
# Softmax temperature turning the categories' scores into a distribution. Similarities
# between short texts spread over a few tenths, so differences are sharpened.
TEMPERATURE = 0.05
# The regression fitted on the examples (it learns which n-grams and directions of
# meaning tell the categories apart, where the nearest examples weigh every word alike):
# its share of the mixed probabilities. Its inverse regularisation strength is the
# learned model's (llm.text_model).
REGRESSION_SHARE = 0.7
# Category sets remembered per process, each once for English reports and once for
# Spanish ones. An entry holds a few hundred vectors, their n-grams and the regression's
# weights: about 3 MB for a city's categories, so 16 of them stay under 50 MB. Tenants
# whose categories are unedited share one; a set that dropped out is fitted again (about
# 0.4 s), and only until its tenant's corrections train a model.
_CACHE_SIZE = 16

_CategoryKey = tuple[tuple[str, str, str, tuple[str, ...]], ...]


def _category_key(categories: list[CategoryInfo], spanish: bool) -> _CategoryKey:
    """The categories as the cache knows them. Examples in Spanish answer only reports that
    read as Spanish: their n-grams and meanings would otherwise pull short English reports
    their way ("Piano", a dumped one, to potholes)."""
    return tuple(
        (c.code, c.name, c.description, tuple(e for e in c.examples if spanish or not _spanish_example(e)))
        for c in categories
    )


@lru_cache(maxsize=8192)
def _spanish_example(example: str) -> bool:
    """Asked of every example for every report: remembered, as examples change rarely."""
    return looks_spanish(example)


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

    def rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Each text's n-gram weights (a unit-length row); n-grams no example has are left
        out."""
        rows: list[int] = []
        grams: list[np.ndarray] = []
        values: list[np.ndarray] = []
        vocabulary = self.vocabulary
        for row, text in enumerate(texts):
            # The term frequencies (1 + log count, as _tf) of the known n-grams only (a
            # report has many an example lacks), their logarithms taken together: the
            # float32 rows _tf gave, for 12 % less CPU per text.
            known = [
                (vocabulary[gram], count)
                for gram, count in Counter(char_features(text)).items()
                if gram in vocabulary
            ]
            if not known:
                continue
            index, counts = np.asarray(known).T
            weights = (1 + np.log(counts)) * self.idf[index]
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
        return query


def _softmax(scores: np.ndarray) -> np.ndarray:
    """Each row of scores made a distribution."""
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class _Regression:
    """A multinomial logistic regression over an example's n-grams and embedding, fitted
    on the examples themselves: one column of weights per category, and its intercept."""

    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, features: sparse.csr_matrix, labels: np.ndarray, classes: int) -> "_Regression":
        """Cross-entropy with an L2 penalty on the weights (not the intercepts), minimised
        by L-BFGS from zero. Each category's examples weigh as much together as any
        other's, so how many examples the team (or staff) wrote for a category is not
        learned as how likely it is: a category with only its name stands as tall as one
        with forty examples."""
        rows, columns = features.shape
        targets = np.zeros((rows, classes))
        targets[np.arange(rows), labels] = 1.0
        counts = np.bincount(labels, minlength=classes)
        share = (rows / (np.count_nonzero(counts) * counts[labels]))[:, None] * INVERSE_REGULARISATION

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            weights, intercept = flat[:-classes].reshape(columns, classes), flat[-classes:]
            logits = np.asarray(features @ weights) + intercept
            logits -= logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            error = share * (np.exp(log_p) - targets)
            value = -float((share * targets * log_p).sum()) + 0.5 * float((weights * weights).sum())
            gradient = np.asarray(features.T @ error) + weights
            return value, np.concatenate([gradient.ravel(), error.sum(axis=0)])

        start = np.zeros(columns * classes + classes)
        flat = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 1000}).x
        return cls(flat[:-classes].reshape(columns, classes).astype(np.float32), flat[-classes:])

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        return _softmax(np.asarray(features @ self.coef) + self.intercept)


@dataclass(frozen=True)
class _Prototypes:
    vectors: np.ndarray  # one unit vector per example
    spelling: _Spelling
    # Per category, the indices of its examples, padded with the index one past the last
    # example (a similarity of minus infinity), and how many of them its score averages.
    slots: np.ndarray
    nearest: np.ndarray
    # None with a single category: there is nothing to tell apart.
    regression: _Regression | None


def _features(grams: sparse.csr_matrix, vectors: np.ndarray) -> sparse.csr_matrix:
    """What the regression reads: each text's n-grams (_Spelling.rows) and its embedding,
    side by side."""
    return sparse.hstack([grams, sparse.csr_matrix(vectors * EMBEDDING_WEIGHT)], format="csr")


@lru_cache(maxsize=_CACHE_SIZE)
def _prototypes(key: _CategoryKey) -> _Prototypes | None:
    """Every example's vector and n-grams, which examples are each category's, and the
    regression fitted on them."""
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
    spelling = _Spelling.fit(texts)
    labels = np.asarray([category for category, own in enumerate(slots) for _ in own])
    regression = (
        _Regression.fit(_features(spelling.rows(texts), vectors), labels, len(slots))
        if len(slots) > 1
        else None
    )
    width = max(len(own) for own in slots)
    padded = np.asarray([own + [len(texts)] * (width - len(own)) for own in slots])
    nearest = np.asarray([min(len(own), NEAREST) for own in slots], dtype=np.float64)
    return _Prototypes(vectors, spelling, padded, nearest, regression)


# The io workers' threads classify side by side: the first of them to meet a set of
# categories fits it, and the others asking for the same set wait for that fit rather than
# repeat it. Threads asking for other sets, already fitted or not, do not wait.
_in_flight: dict[_CategoryKey, threading.Lock] = {}
_in_flight_guard = threading.Lock()


def _prototypes_once(key: _CategoryKey) -> _Prototypes | None:
    with _in_flight_guard:
        fitting = _in_flight.setdefault(key, threading.Lock())
    try:
        with fitting:
            return _prototypes(key)
    finally:
        with _in_flight_guard:
            _in_flight.pop(key, None)


def _probabilities(texts: list[str], vectors: np.ndarray, prototypes: _Prototypes) -> np.ndarray:
    """Each text's (a row) probability for each category (a column): the nearest
    examples' scores made a distribution, mixed with the regression's."""
    grams = prototypes.spelling.rows(texts)  # read once, for the similarities and the regression
    similarities = (
        vectors @ prototypes.vectors.T + SPELLING_WEIGHT * (grams @ prototypes.spelling.by_gram).toarray()
    )
    padded = np.concatenate([similarities, np.full((len(texts), 1), -np.inf)], axis=1)
    closest = -np.sort(-padded[:, prototypes.slots], axis=2)[:, :, :NEAREST]
    scores = np.where(np.isfinite(closest), closest, 0.0).sum(axis=2) / prototypes.nearest
    nearest = _softmax(scores / TEMPERATURE)
    if prototypes.regression is None:
        return nearest
    learned = prototypes.regression.probabilities(_features(grams, vectors))
    return (1 - REGRESSION_SHARE) * nearest + REGRESSION_SHARE * learned


def classify_prior_many(texts: list[str], categories: list[CategoryInfo]) -> list[Classification | None]:
    """Each text's category, the most probable by its examples (None for every text
    without the model or with no categories, and for a text with no words the model
    knows), all compared in a few matrix products: one batch for the texts that read as
    English, one for those that read as Spanish."""
    answers: list[Classification | None] = [None] * len(texts)
    wanted = [index for index, text in enumerate(texts) if text.strip()] if categories else []
    vectors = embeddings.embed_many([texts[index] for index in wanted]) if wanted else None
    if vectors is None:
        return answers
    by_language: dict[bool, list[tuple[int, np.ndarray]]] = {False: [], True: []}
    for index, vector in zip(wanted, vectors, strict=True):
        if np.any(vector):
            by_language[looks_spanish(texts[index])].append((index, vector))
    for spanish, known in by_language.items():
        prototypes = _prototypes_once(_category_key(categories, spanish)) if known else None
        if prototypes is None:
            continue
        probabilities = _probabilities(
            [texts[index] for index, _ in known], np.stack([v for _, v in known]), prototypes
        )
        for (index, _), row in zip(known, probabilities, strict=True):
            best = int(np.argmax(row))
            category = categories[best]
            answers[index] = Classification(
                category=category.code,
                severity=rule_severity(texts[index], category),
                summary=summarise(texts[index]),
                confidence=round(float(row[best]), 3),
                classifier=CLASSIFIER_NAME,
            )
    return answers


def classify_prior(text: str, categories: list[CategoryInfo]) -> Classification | None:
    """The category most probable by its examples, or None without the model, with no
    categories, or for a text with no words the model knows."""
    return classify_prior_many([text], categories)[0]
