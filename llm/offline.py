"""The offline classifier: no network, no model file. It scores each of the tenant's
categories by the words of its keywords, name and description found in the report, and
reads urgency from a short list of danger words. Deterministic and explainable."""

import re

from llm.types import SEVERITIES, CategoryInfo, Classification

CLASSIFIER_NAME = "offline-keywords-v1"
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to tell categories apart.
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were with "
    "not no out any other anything fits".split()
)
# Words that raise severity whatever the category says.
_CRITICAL = frozenset(
    "fire smoke gas sparking sparks electrocution injured injury bleeding collapse collapsed explosion".split()
)
_HIGH = frozenset(
    "danger dangerous urgent emergency flooding flood hazard unsafe exposed trapped stuck broken".split()
)
_SUMMARY_MAX = 120


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    """Enough stemming to match plurals and -ing forms (potholes/pothole, leaking/leak,
    bushes/bush), the same way for the report and for the category's words."""
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def summarise(text: str) -> str:
    """The first sentence, whitespace folded, cut at a word boundary."""
    flat = " ".join(text.split())
    first = re.split(r"(?<=[.!?])\s", flat, maxsplit=1)[0]
    if len(first) <= _SUMMARY_MAX:
        return first
    cut = first[:_SUMMARY_MAX].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def classify_offline(text: str, categories: list[CategoryInfo]) -> Classification:
    words = _words(text)
    stems = {_stem(w) for w in words if w not in _STOP}
    joined = " " + " ".join(words) + " "

    scores: dict[str, float] = {}
    for cat in categories:
        score = 0.0
        for keyword in cat.keywords:
            kw_words = _words(keyword)
            if len(kw_words) > 1:
                score += 2.0 if f" {' '.join(kw_words)} " in joined else 0.0
            elif kw_words and _stem(kw_words[0]) in stems:
                score += 1.0
        name_stems = {_stem(w) for w in _words(cat.name) if w not in _STOP}
        score += 1.5 * len(name_stems & stems)
        desc_stems = {_stem(w) for w in _words(cat.description) if w not in _STOP}
        score += 0.25 * len(desc_stems & stems)
        scores[cat.code] = score

    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    by_code = {c.code: c for c in categories}
    if not ranked or ranked[0][1] == 0:
        fallback = "other" if "other" in by_code else (ranked[0][0] if ranked else None)
        category, confidence = fallback, 0.1
    else:
        top, second = ranked[0][1], (ranked[1][1] if len(ranked) > 1 else 0.0)
        category = ranked[0][0]
        # The winner's share of the evidence, with one unit of doubt: a single matching
        # word is 0.5, a tie is below that, several words for one category approach 1.
        confidence = round(min(0.95, top / (top + second + 1)), 3)

    severity = _severity(words, by_code[category].default_severity if category in by_code else "medium")
    return Classification(category, severity, summarise(text), confidence, CLASSIFIER_NAME)


def rule_severity(text: str, category: CategoryInfo) -> str:
    """The rules' severity of a text in a category: its default, raised by danger words."""
    return _severity(_words(text), category.default_severity)


def _severity(words: list[str], default: str) -> str:
    word_set = set(words)
    if word_set & _CRITICAL:
        return "critical"
    if word_set & _HIGH and SEVERITIES.index(default) < SEVERITIES.index("high"):
        return "high"
    return default
