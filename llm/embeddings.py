"""Meaning as numbers: a small static embedding model whose weights ship inside its PyPI
wheel (WordLlama, 256 dimensions), loaded once per process and never from the network.

Two texts about one problem in different words ("Pot Hole" / "Pothole", "Encampment" /
"people camping on the sidewalk") land close together, which trigram similarity cannot
see. Grouping compares a report with the few candidate issues the spatial query returns;
the cold-start classifier compares it with each category's starter examples.

The model is optional: when the package is missing or fails to load, `embed` answers
None and every caller keeps its word-based path (keywords, trigrams).
"""

import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from civicpulse.core import vectors as stored_vectors
from civicpulse.core.vectors import DIMENSIONS

logger = logging.getLogger(__name__)

MODEL_NAME = "wordllama-l2_supercat-256"


class _Model(Protocol):
    def embed(self, texts: list[str], norm: bool = ...) -> np.ndarray: ...


_lock = threading.Lock()
_loaded: list[_Model | None] = []  # empty: not tried yet; [None]: tried and absent


def _load() -> _Model | None:
    """Load the wheel's weights and tokenizer with downloads disabled. WordLlama looks for
    its tokenizer under `<cache_dir>/tokenizers`, which is not where its wheel puts it, so
    the cache directory is a private folder whose `tokenizers` entry points at the
    package's own folder."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        logger.info("embeddings: wordllama is not installed; word-based similarity only")
        return None
    package = Path(wordllama.__file__).parent
    cache = Path(tempfile.mkdtemp(prefix="civicpulse-wordllama-"))
    try:
        os.symlink(package / "tokenizers", cache / "tokenizers")
        model: _Model = WordLlama.load(
            config="l2_supercat", dim=DIMENSIONS, cache_dir=cache, disable_download=True
        )
    except Exception as exc:  # a broken install must not stop the pipeline
        logger.warning(
            "embeddings: wordllama failed to load; word-based similarity only", extra={"error": repr(exc)}
        )
        return None
    return model


def model() -> _Model | None:
    """The process's model, loaded on first use (thread-safe: io workers are threads)."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def available() -> bool:
    return model() is not None


def embed(texts: Sequence[str]) -> np.ndarray | None:
    """Unit vectors, one row per text (a blank text is the zero vector: similar to
    nothing), or None without the model."""
    loaded = model()
    if loaded is None:
        return None
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    filled = [i for i, text in enumerate(texts) if text.strip()]
    if filled:
        raw = np.asarray(loaded.embed([texts[i] for i in filled], norm=False), dtype=np.float32)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        vectors[filled] = np.divide(raw, norms, out=np.zeros_like(raw), where=norms > 0)
    return vectors


# A report's text is embedded by the classifier (starter examples, learned model,
# few-shot) and again for the vector grouping stores: the recent texts' vectors are kept
# so each text is embedded once per process. A pipeline batch (50 reports) per worker
# thread fits many times over.
_RECENT_TEXTS = 1024
_recent: OrderedDict[str, np.ndarray] = OrderedDict()
_recent_lock = threading.Lock()


def embed_many(texts: Sequence[str]) -> list[np.ndarray] | None:
    """Each text's unit vector (read-only: they are shared), the texts not seen lately
    embedded in one call; None without the model."""
    with _recent_lock:
        known = {text: _recent[text] for text in texts if text in _recent}
        for text in known:
            _recent.move_to_end(text)
    missing = list(dict.fromkeys(text for text in texts if text not in known))
    if missing:
        vectors = embed(missing)
        if vectors is None:
            return None
        with _recent_lock:
            for text, vector in zip(missing, vectors, strict=True):
                vector.setflags(write=False)
                known[text] = _recent[text] = vector
            while len(_recent) > _RECENT_TEXTS:
                _recent.popitem(last=False)
    elif model() is None:
        return None
    return [known[text] for text in texts]


def embed_one(text: str) -> np.ndarray | None:
    """One text's unit vector (read-only: it is shared), or None without the model."""
    vectors = embed_many([text])
    return None if vectors is None else vectors[0]


def embed_stored(text: str) -> bytes | None:
    """The text's vector as the database keeps it (civicpulse.core.vectors), or None
    without the model or for a blank text."""
    vector = embed_one(text)
    if vector is None or not np.any(vector):
        return None
    return stored_vectors.pack(vector)
