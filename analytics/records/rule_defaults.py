"""The fifteen property rules as installed for a city tenant, and the tier bounds. What
each rule checks is its SELECT in sql/property_flags.sql; docs/records.md lists them."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class RuleDefault:
    category: str
    description: str
    threshold: Decimal | None
    severity: int
    years: int | None = None


PROPERTY_RULES: dict[str, RuleDefault] = {
    "A1": RuleDefault("A", "Open building violations at or above the threshold", Decimal(5), 3),
    "A2": RuleDefault("A", "Oldest open building violation older than the threshold (days)", Decimal(365), 2),
    "A3": RuleDefault(
        "A",
        "Building violations up year over year: this year at least the threshold above last year",
        Decimal(3),
        2,
    ),
    "A4": RuleDefault("A", "Building violations all-time at or above the threshold", Decimal(20), 2),
    "A5": RuleDefault("A", "A demolition (wrecking) permit exists", None, 3),
    "B1": RuleDefault("B", "Failed food inspections in 24 months at or above the threshold", Decimal(2), 2),
    "B2": RuleDefault("B", "A high-risk food facility failed its latest inspection", None, 3),
    "C1": RuleDefault("C", "Tax lien or sale events at or above the threshold", Decimal(1), 2),
    "C2": RuleDefault("C", "A tax lien or sale within the last N years", None, 2, years=3),
    "C3": RuleDefault("C", "Total amount offered at tax sales above the threshold ($)", Decimal(10000), 2),
    "D1": RuleDefault("D", "A vacant-building violation with an amount still due, whatever its age", None, 3),
    "D2": RuleDefault("D", "Vacant-building fines due above the threshold ($)", Decimal(1000), 2),
    "D3": RuleDefault("D", "Slow permits: average processing days above the threshold", Decimal(90), 1),
    "D4": RuleDefault("D", "311 requests in 12 months at or above the threshold", Decimal(10), 1),
    "D5": RuleDefault(
        "D", "Open platform issues at the location past their SLA, at or above the threshold", Decimal(1), 2
    ),
}

# The raw score at which each tier starts.
TIER_BOUNDS: dict[str, int] = {"LOW": 0, "MODERATE": 3, "HIGH": 6, "CRITICAL": 10}
