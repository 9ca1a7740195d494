"""The learned text model, fitted by scikit-learn and used by numpy alone.

Features, side by side: TF-IDF over words and word pairs, TF-IDF over character n-grams
inside words ("pothole", "pot hole" and "potholes" share most of theirs, and misspellings
keep most of theirs), and the text's embedding (llm.embeddings) for what the words mean.
A logistic regression on them gives calibrated probabilities (the review list of
low-confidence classifications relies on them).

What is stored is plain JSON numbers (terms, idf, weights, intercepts, classes), never a
pickle: a worker never unpickles anything, and a later version of the code can still
read, audit and use an old model. scikit-learn is imported inside the fitting functions
only: the `io` workers that classify reports never load it.
"""

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from civicpulse.core.language_guess import looks_spanish
from llm import embeddings

if TYPE_CHECKING:
    from scipy.sparse import spmatrix
    from sklearn.linear_model import LogisticRegression

# Bumped whenever the stored parameters change shape, so old rows stay readable:
# 1 had words only; 2 adds character n-grams and the embedding.
PARAMETERS_FORMAT = 2
_TOKEN = re.compile(r"\b\w\w+\b")
_WORD = re.compile(r"\w+")
# The most frequent terms only, so the stored JSON stays small (a few hundred kB for a
# tenant's twenty categories) however many corrections there are.
MAX_FEATURES = 6000
MAX_CHAR_FEATURES = 15000
CHAR_NGRAMS = (3, 5)
# What a vocabulary entry of a loaded model takes (TextModel.footprint), measured with
# tracemalloc on a model of 21,000 terms read back from its stored parameters.
VOCABULARY_ENTRY_BYTES = 120
# How much the embedding counts beside the two TF-IDF blocks (each of unit length).
EMBEDDING_WEIGHT = 0.75
# Stored weights are rounded: five decimals move no probability by more than ~1e-4.
_DECIMALS = 5
# Calibration: with at least this many examples, the newest share of them measures how
# over- or under-confident the model is (a temperature from this grid).
CALIBRATION_MIN_EXAMPLES = 100
_CALIBRATION_SHARE = 0.2
_TEMPERATURES = tuple(round(0.5 + 0.1 * i, 1) for i in range(36))  # 0.5 .. 4.0
# Inverse regularisation strength: weaker than scikit-learn's default (1.0) because the
# feature blocks are L2-normalised and short texts carry few terms.
INVERSE_REGULARISATION = 30.0


def text_features(text: str) -> list[str]:
    """The word terms of a text: lower-cased words of two or more characters, and each
    pair of neighbouring words. The one analyzer for fitting and predicting (it is handed
    to scikit-learn as a callable), so both always see the same terms."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def char_features(text: str) -> list[str]:
    """Character n-grams of each word padded with a space either side, as scikit-learn's
    `char_wb` analyzer makes them."""
    grams: list[str] = []
    for word in _WORD.findall(text.lower()):
        grams += _word_grams(word) if len(word) <= _KEPT_WORD_LENGTH else _cut(word)
    return grams


# Residents use few words over and over: each short word is cut up once per process. A
# bound of 10,000 words of at most 20 letters keeps the cache to about 20 MB whatever
# anyone types.
_KEPT_WORD_LENGTH = 20


def _cut(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    return tuple(padded[i : i + size] for size in range(low, high + 1) for i in range(len(padded) - size + 1))


_word_grams = lru_cache(maxsize=10_000)(_cut)


class FeatureSet:
    """The three feature blocks as one matrix, fitted on the training texts."""

    def __init__(self, *, use_embedding: bool) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words: TfidfVectorizer = TfidfVectorizer(
            analyzer=text_features, sublinear_tf=True, max_features=MAX_FEATURES
        )
        self.chars: TfidfVectorizer = TfidfVectorizer(
            analyzer=char_features, sublinear_tf=True, max_features=MAX_CHAR_FEATURES
        )
        self.use_embedding = use_embedding

    def _with_embedding(self, blocks: list["spmatrix"], texts: Sequence[str]) -> "spmatrix":
        from scipy.sparse import csr_matrix, hstack

        if self.use_embedding:
            vectors = embeddings.embed(list(texts))
            blocks.append(
                csr_matrix(
                    vectors * EMBEDDING_WEIGHT
                    if vectors is not None
                    else np.zeros((len(texts), embeddings.DIMENSIONS))
                )
            )
        return hstack(blocks).tocsr()

    def fit_transform(self, texts: Sequence[str]) -> "spmatrix":
        return self._with_embedding([self.words.fit_transform(texts), self.chars.fit_transform(texts)], texts)

    def transform(self, texts: Sequence[str]) -> "spmatrix":
        return self._with_embedding([self.words.transform(texts), self.chars.transform(texts)], texts)


def text_model_estimators(
    texts: Sequence[str], labels: Sequence[str]
) -> tuple[FeatureSet, "LogisticRegression"]:
    """The fitted features and logistic regression, before they are turned into plain
    parameters (what the stored model must predict exactly like)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise ValueError("a text model needs at least two distinct labels")
    features = FeatureSet(use_embedding=embeddings.available())
    matrix = features.fit_transform(texts)
    model = LogisticRegression(C=INVERSE_REGULARISATION, max_iter=3000)
    model.fit(matrix, list(labels))
    return features, model


def _rounded(values: np.ndarray) -> list:
    return np.round(values, _DECIMALS).tolist()


def _temperature(texts: Sequence[str], labels: Sequence[str]) -> float:
    """How much to soften the model's scores so its probabilities match how often it is
    right: fitted on the newest fifth of the texts by a model fitted on the rest (the
    order is the order examples came in), by the least log loss over a grid. 1 (no
    change) with too few texts or labels to tell."""
    cut = round(len(texts) * (1 - _CALIBRATION_SHARE))
    if len(texts) < CALIBRATION_MIN_EXAMPLES or len(set(labels[:cut])) < 2:
        return 1.0
    features, model = text_model_estimators(texts[:cut], labels[:cut])
    known = [i for i in range(cut, len(texts)) if labels[i] in set(model.classes_)]
    if not known:
        return 1.0
    scores = model.decision_function(features.transform([texts[i] for i in known]))
    truth = np.searchsorted(model.classes_, [labels[i] for i in known])
    if scores.ndim == 1:  # two classes: one score, for the second
        scores = np.column_stack([np.zeros_like(scores), scores])

    def log_loss(temperature: float) -> float:
        scaled = scores / temperature
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probabilities[np.arange(len(truth)), truth].mean())

    return min(_TEMPERATURES, key=log_loss)


def text_model_fit(texts: Sequence[str], labels: Sequence[str]) -> dict:
    """Fit on labelled texts; return the parameters as plain JSON-ready data: `terms` and
    `idf` (words), `chars` and `char_idf`, `embedding` (whether the last columns are the
    embedding), `coef` (one row per class, or a single row for two classes, as
    scikit-learn keeps it), `intercept`, `classes`, `temperature` (scores are divided
    by it before they become probabilities) and `spanish_texts` (how many of the texts
    read as Spanish). Pure: touches no database."""
    temperature = _temperature(texts, labels)
    features, model = text_model_estimators(texts, labels)
    return {
        "temperature": temperature,
        "terms": features.words.get_feature_names_out().tolist(),
        "idf": _rounded(features.words.idf_),
        "chars": features.chars.get_feature_names_out().tolist(),
        "char_idf": _rounded(features.chars.idf_),
        "embedding": features.use_embedding,
        "coef": _rounded(model.coef_),
        "intercept": _rounded(model.intercept_),
        "classes": [str(c) for c in model.classes_],
        "spanish_texts": sum(looks_spanish(text) for text in texts),
    }


def _tfidf(terms: list[str], index: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns and weights of a text's terms: sublinear tf, times idf, L2-normalised
    (TfidfVectorizer(sublinear_tf=True))."""
    counts = Counter(term for term in terms if term in index)
    if not counts:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    columns = np.fromiter((index[t] for t in counts), dtype=np.intp, count=len(counts))
    weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * idf[columns]
    return columns, weights / np.linalg.norm(weights)


@dataclass(frozen=True)
class TextModel:
    """A fitted text model read back from its parameters, ready to predict with numpy."""

    index: dict[str, int]
    idf: np.ndarray
    char_index: dict[str, int]
    char_idf: np.ndarray
    uses_embedding: bool
    coef: np.ndarray
    intercept: np.ndarray
    classes: tuple[str, ...]
    temperature: float = 1.0
    # How many of the texts it was fitted on read as Spanish (0 for models stored before
    # it was counted).
    spanish_texts: int = 0

    def footprint(self) -> int:
        """The bytes it holds, near enough for a cache's budget: its arrays, and about 120
        a vocabulary entry (the dict's slot, the term's string, its column's int)."""
        arrays = (self.idf, self.char_idf, self.coef, self.intercept)
        return sum(a.nbytes for a in arrays) + VOCABULARY_ENTRY_BYTES * (
            len(self.index) + len(self.char_index)
        )

    @classmethod
    def from_parameters(cls, parameters: dict) -> "TextModel":
        """Either format: a format-1 model (words only) has no character or embedding columns."""
        return cls(
            index={term: i for i, term in enumerate(parameters["terms"])},
            idf=np.asarray(parameters["idf"], dtype=float),
            char_index={gram: i for i, gram in enumerate(parameters.get("chars", []))},
            char_idf=np.asarray(parameters.get("char_idf", []), dtype=float),
            uses_embedding=bool(parameters.get("embedding", False)),
            coef=np.asarray(parameters["coef"], dtype=float),
            intercept=np.asarray(parameters["intercept"], dtype=float),
            classes=tuple(parameters["classes"]),
            temperature=float(parameters.get("temperature", 1.0)),
            spanish_texts=int(parameters.get("spanish_texts", 0)),
        )

    def knows(self, text: str) -> bool:
        """Whether any word or character term of the text is in the vocabulary (else only
        the prior speaks)."""
        return any(term in self.index for term in text_features(text)) or any(
            gram in self.char_index for gram in char_features(text)
        )

    def probabilities(self, text: str) -> np.ndarray:
        """One probability per class, in `classes` order: what scikit-learn's
        predict_proba gives for the same text."""
        scores = self.intercept.copy()
        columns, weights = _tfidf(text_features(text), self.index, self.idf)
        if len(columns):
            scores = scores + self.coef[:, columns] @ weights
        offset = len(self.index)
        columns, weights = _tfidf(char_features(text), self.char_index, self.char_idf)
        if len(columns):
            scores = scores + self.coef[:, offset + columns] @ weights
        if self.uses_embedding:
            vector = embeddings.embed_one(text)
            if vector is not None:
                start = offset + len(self.char_index)
                scores = scores + self.coef[:, start : start + len(vector)] @ (vector * EMBEDDING_WEIGHT)
        scores = scores / self.temperature
        if len(self.classes) == 2:
            # Binary logistic regression keeps one row of weights, for the second class.
            second = 1.0 / (1.0 + math.exp(-float(scores[0])))
            return np.array([1.0 - second, second])
        exp = np.exp(scores - scores.max())
        return exp / exp.sum()

    def predict(self, text: str) -> str:
        return self.classes[int(np.argmax(self.probabilities(text)))]


def predict_many(parameters: dict, texts: Sequence[str]) -> list[str]:
    """The most probable class of each text under stored (or freshly fitted) parameters."""
    model = TextModel.from_parameters(parameters)
    return [model.predict(text) for text in texts]


def baseline_predictions(
    train_texts: Sequence[str], train_labels: Sequence[str], texts: Sequence[str]
) -> list[str]:
    """A plain TF-IDF (words) + LinearSVC, scikit-learn's defaults: the yardstick the
    learned model is compared with on the same split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer()
    model = LinearSVC().fit(vectorizer.fit_transform(train_texts), list(train_labels))
    return [str(label) for label in model.predict(vectorizer.transform(texts))]
