"""What the classifiers take and give. Plain data: this app knows nothing of the others."""
from dataclasses import dataclass, field

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = field(default_factory=tuple)
    default_severity: str = "medium"


@dataclass(frozen=True)
class Classification:
    category: str | None
    severity: str
    summary: str
    confidence: float
    classifier: str
