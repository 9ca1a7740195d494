"""What the classifiers take and give. Plain data: this app knows nothing of the others."""

from dataclasses import dataclass, field

SEVERITIES = ("low", "medium", "high", "critical")
# What each severity means, in the words a model is given with every classification.
SEVERITY_DEFINITIONS = {
    "low": "a nuisance or cosmetic problem; no risk to anyone",
    "medium": "a problem that degrades a service or could get worse; no immediate danger",
    "high": "a hazard that could hurt someone or cause damage soon",
    "critical": "immediate danger to people (fire, gas, live wires, collapse, injury)",
}


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = field(default_factory=tuple)
    default_severity: str = "medium"
    # Short reports of the category in residents' words: the cold-start classifier's prior.
    examples: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Classification:
    category: str | None
    severity: str
    summary: str
    confidence: float
    # Which classifier answered, with its version: "offline-keywords-v1",
    # "offline-learned-v3", "llm:<model>".
    classifier: str
    # Why a model's answer was not used, when it was not ("timeout", "invalid: ...").
    note: str = ""
