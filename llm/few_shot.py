"""The tenant's own corrected reports as examples for its language model: the few whose
meaning is nearest the report being classified, so the model sees how this place's staff
sort reports like it (few-shot), not only the categories' names."""

from collections import OrderedDict
from datetime import datetime

import numpy as np
from django.db.models import Count, Max

from civicpulse.core.tenancy import current_schema
from llm import embeddings
from llm.models import TrainingExample

# How many examples go into a prompt, and how many of the newest corrections are searched.
EXAMPLES_IN_PROMPT = 5
SEARCHED = 500
# Below this cosine an example says little about the report; better none than a stray one.
MIN_SIMILARITY = 0.2
# Tenants whose example vectors this process keeps (each at most SEARCHED vectors).
_CACHED_TENANTS = 64

_Key = tuple[int, datetime | None]
_cache: "OrderedDict[str, tuple[_Key, list[str], list[str], np.ndarray]]" = OrderedDict()


def _examples() -> tuple[list[str], list[str], np.ndarray] | None:
    """The newest corrections with a category, and their vectors: computed again only when
    a correction was added or changed since this process last looked."""
    schema = current_schema()
    state = TrainingExample.objects.exclude(category="").aggregate(n=Count("id"), newest=Max("updated_at"))
    key: _Key = (state["n"], state["newest"])
    cached = _cache.get(schema)
    if cached is not None and cached[0] == key:
        _cache.move_to_end(schema)
        return cached[1], cached[2], cached[3]
    rows = list(
        TrainingExample.objects.exclude(category="")
        .order_by("-updated_at", "-id")
        .values_list("text", "category")[:SEARCHED]
    )
    vectors = embeddings.embed([text for text, _ in rows]) if rows else None
    if vectors is None:
        return None
    texts, labels = [text for text, _ in rows], [label for _, label in rows]
    _cache[schema] = (key, texts, labels, vectors)
    _cache.move_to_end(schema)
    while len(_cache) > _CACHED_TENANTS:
        _cache.popitem(last=False)
    return texts, labels, vectors


def nearest_corrections(text: str, codes: list[str]) -> list[tuple[str, str]]:
    """Up to EXAMPLES_IN_PROMPT (text, category code) of the tenant's corrections nearest
    the text in meaning, nearest first, among categories still offered; none without the
    embedding model or corrections."""
    vector = embeddings.embed_one(text)
    if vector is None or not np.any(vector):
        return []
    found = _examples()
    if found is None:
        return []
    texts, labels, vectors = found
    allowed = set(codes)
    similarities = vectors @ vector
    chosen: list[tuple[str, str]] = []
    for index in np.argsort(-similarities, kind="stable"):
        if similarities[index] < MIN_SIMILARITY or len(chosen) == EXAMPLES_IN_PROMPT:
            break
        if labels[index] in allowed:
            chosen.append((texts[index], labels[index]))
    return chosen
