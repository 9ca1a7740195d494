"""The grouping score: one number in [0, 1] saying how likely a report and an open issue
are the same problem, made of five parts a person can check by hand. Pure functions that
read no table: the thresholds come from issues.selectors.grouping_thresholds, the candidates
from issues.candidate_selectors.issue_candidates. docs/grouping.md explains the choices.
`explain_match` reads a stored match record back in words for staff.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from civicpulse.core.language_guess import text_language
from civicpulse.core.vectors import stored_cosine
from issues.candidate_selectors import Candidate

if TYPE_CHECKING:
    from issues.models import Category

# How much each part counts. What the texts say counts most, in words (trigrams: "Pot
# Hole" / "Pothole") and in meaning (embeddings: "Encampment" / "people camping on the
# sidewalk"). Distance and time only rank candidates that already passed the hard radius
# and window; the category relation keeps a related category's issue behind one of the
# report's own category. Fitted on real resident reports and their city's own duplicate
# links (docs/grouping.md says how).
WEIGHTS: dict[str, float] = {"text": 0.15, "meaning": 0.25, "distance": 0.25, "time": 0.15, "category": 0.20}

# The category part by relation. A related category is a declared link between two
# categories, so it says more than not knowing one side's category at all.
RELATION_VALUES: dict[str, float] = {"same": 1.0, "related": 0.6, "uncategorised": 0.4}

# A report and an issue of one category in two languages ("bache" beside "Pothole") share
# no trigrams, and the embedding gives no meaning across languages (a cosine of 0.04, and
# 0.07 for whole sentences): their category stands for the meaning, at least this much,
# about what two English reports of one category but different words score. With the
# default policy a Spanish pothole report 5 m and a minute from an English pothole issue
# scores 0.66, in the borderline band: the tenant's language model decides where it has
# one, else the join score, which joins within about 27 m in the first hours and not
# across the street (45 m: 0.46). With a trigram similarity under about 0.08 (usual across
# languages) it never scores above the band, so where a language model is there to ask,
# it is asked. Not for the catch-all category, whose reports share no problem for being
# in it, nor without a point on both sides (a shared address counts as the same place),
# nor where either language is not clear (civicpulse.core.language_guess.text_language).
ACROSS_LANGUAGES_MEANING = 0.35
CATCH_ALL_CODE = "other"
# An issue's text is a candidate of many reports in turn: its language is remembered
# (4,096 texts of at most 280 characters, about 2 MB), the reports' own are not.
_issue_language = lru_cache(maxsize=4096)(text_language)

# What a borderline candidate's adjudicator is: (report text, issue text) -> answer or None.
Adjudicator = Callable[[str, str], dict | None]


@dataclass(frozen=True)
class Thresholds:
    """The grouping values in force for one category: its own where set, else the tenant's."""

    radius_m: int
    window_hours: int
    min_similarity: float
    join_score: float
    borderline_low: float
    borderline_high: float
    # Which of the values the category set itself; the rest came from the tenant's policy.
    from_category: tuple[str, ...] = ()

    def as_record(self) -> dict:
        return {
            "radius_m": self.radius_m,
            "window_hours": self.window_hours,
            "min_similarity": self.min_similarity,
            "join_score": self.join_score,
            "borderline": [self.borderline_low, self.borderline_high],
            "from_category": list(self.from_category),
        }


@dataclass(frozen=True)
class Score:
    relation: str
    parts: dict[str, float]
    value: float

    def as_record(self) -> dict:
        return {
            "category_relation": self.relation,
            "parts": self.parts,
            "weights": WEIGHTS,
            "score": self.value,
        }


def category_relation(report_category_id: int | None, issue_category_id: int | None) -> str:
    """Candidates were already limited to compatible categories, so two different known
    categories are related ones."""
    if report_category_id is None or issue_category_id is None:
        return "uncategorised"
    return "same" if report_category_id == issue_category_id else "related"


def compared(
    candidates: list[Candidate],
    *,
    text: str,
    embedding: bytes | None,
    category: "Category | None",
    thresholds: Thresholds,
) -> tuple[list[Candidate], dict[int, float | None], set[int]]:
    """The candidates whose texts share enough with the report's, in words or in meaning
    (the better of the two at least the minimum similarity); each candidate's meaning part by
    issue id: the cosine of the two texts' embeddings (None when either has none), and for
    an issue of the report's own category written in the other language, at least
    ACROSS_LANGUAGES_MEANING; and the ids of those issues."""
    meanings = {c.issue_id: stored_cosine(embedding, c.embedding) for c in candidates}
    # Issues of the report's own category, located: the report's language is guessed only
    # when there are some (most reports of a backlog have none).
    own = (
        [c for c in candidates if c.category_id == category.pk and c.distance_m is not None]
        if category is not None and category.code != CATCH_ALL_CODE
        else []
    )
    language = text_language(text) if own else ""
    across = {c.issue_id for c in own if _issue_language(c.text) not in ("", language)} if language else set()
    for issue_id in across:
        meanings[issue_id] = max(ACROSS_LANGUAGES_MEANING, meanings[issue_id] or 0.0)
    kept = [
        c for c in candidates if max(c.similarity, meanings[c.issue_id] or 0.0) >= thresholds.min_similarity
    ]
    return kept, meanings, across


def score(
    *,
    similarity: float,
    meaning: float | None,
    distance_m: float | None,
    time_gap_s: float,
    relation: str,
    thresholds: Thresholds,
) -> Score:
    """Each part in [0, 1]: text is the trigram similarity; meaning the cosine of the two
    texts' embeddings (below 0 counts as 0; across languages, at least the stand-in
    `compared` gives), or the text part when either has none (no model, a blank text, an
    imported issue), so a missing embedding neither helps nor hurts; distance falls
    linearly from 1 at the same point to 0 at the radius (a shared address, with no point,
    counts as the same place); time falls from 1 at the same moment to 0 at the window's
    edge, either side (reports are not always processed in the order they were sent).
    Parts and the score are rounded to three decimals before the score is compared with
    a threshold, so the record reproduces the decision exactly."""
    radius, window_s = thresholds.radius_m, thresholds.window_hours * 3600
    distance = 1.0 if distance_m is None or not radius else 1.0 - min(distance_m, radius) / radius
    time = 1.0 if not window_s else 1.0 - min(abs(time_gap_s), window_s) / window_s
    text = min(max(similarity, 0.0), 1.0)
    parts = {
        "text": round(text, 3),
        "meaning": round(text if meaning is None else min(max(meaning, 0.0), 1.0), 3),
        "distance": round(distance, 3),
        "time": round(time, 3),
        "category": RELATION_VALUES[relation],
    }
    return Score(relation, parts, round(sum(WEIGHTS[k] * v for k, v in parts.items()), 3))


@dataclass(frozen=True)
class Decision:
    joins: bool
    # above_band: joined without asking; below_band: never joins; adjudicated: in the
    # band, the adjudicator's answer decided; join_score: in the band, no usable answer,
    # the plain join threshold decided.
    reason: str
    asked: bool = False
    answer: dict | None = None


def decide(value: float, thresholds: Thresholds, ask: Callable[[], dict | None] | None) -> Decision:
    """Join or not. Outside the borderline band the score alone decides; inside it an
    adjudicator's "same" or "different" decides, and with no adjudicator or no usable
    answer the join score does. `ask` is called at most once."""
    low = min(thresholds.borderline_low, thresholds.join_score)
    high = max(thresholds.borderline_high, thresholds.join_score)
    if value >= high:
        return Decision(True, "above_band")
    if value < low:
        return Decision(False, "below_band")
    if ask is None:
        return Decision(value >= thresholds.join_score, "join_score")
    answer = ask()
    if isinstance(answer, dict) and isinstance(answer.get("same"), bool):
        return Decision(answer["same"], "adjudicated", asked=True, answer=answer)
    return Decision(value >= thresholds.join_score, "join_score", asked=True, answer=answer)


def explain_match(match: dict) -> str:
    """Why a report is on its issue, in one line for staff, from its stored `match`."""
    method = match.get("method")
    if method == "moved":
        return f"moved here by {match.get('by') or 'staff'}"
    if method == "resident":
        distance = match.get("distance_m")
        return "chosen by the resident (“Me too”)" + (
            f", {distance} m from the issue" if distance is not None else ""
        )
    chosen = match.get("chosen") or {}
    if chosen.get("closed_meanwhile"):
        # The resident's choice was closed before the report was grouped: say so first.
        rest = explain_match({k: v for k, v in match.items() if k != "chosen"})
        return f"the resident chose #{chosen.get('issue')}, closed meanwhile; {rest}"
    if method in (None, "new"):
        best = match.get("best")
        if not best:
            return "opened the issue"
        if best.get("closed_meanwhile"):
            return f"opened the issue: the match, #{best.get('issue')}, was closed meanwhile"
        needed = (match.get("thresholds") or {}).get("join_score")
        return (
            f"opened the issue: the closest candidate, #{best.get('issue')}, scored {best.get('score')}"
            + (f" (joining needs {needed}{_adjudication_words(match)})" if needed is not None else "")
        )
    parts = [str(method)]
    if match.get("distance_m") is not None:
        parts.append(f"{match['distance_m']} m")
    parts.append(f"{round(match.get('time_gap_s', 0) / 3600, 1)} h apart")
    parts.append(f"similarity {match.get('similarity')}")
    if match.get("meaning") is not None:
        parts.append(f"meaning {match['meaning']}")
    if match.get("category_relation"):
        parts.append(f"{match['category_relation']} category")
    if match.get("across_languages"):
        parts.append("in the other language (the category stands for the meaning)")
    line = ", ".join(parts)
    if match.get("score") is not None and match.get("thresholds", {}).get("join_score") is not None:
        high = (match["thresholds"].get("borderline") or [None, None])[1]
        line += f"; score {match['score']}"
        if match.get("decision") == "above_band":
            line += f" ≥ {high}"
        elif match.get("decision") == "join_score":
            line += f" ≥ join score {match['thresholds']['join_score']} (borderline)"
        line += _adjudication_words(match)
    return line


def _adjudication_words(match: dict) -> str:
    if "adjudication" not in match:
        return ""
    answer = match["adjudication"]
    if not isinstance(answer, dict) or not isinstance(answer.get("same"), bool):
        return "; the language model gave no answer"
    said = "same problem" if answer["same"] else "different problems"
    confidence = answer.get("confidence")
    return f"; the language model said {said}" + (f" ({confidence})" if confidence is not None else "")
