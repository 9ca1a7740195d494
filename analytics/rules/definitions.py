"""The rules the product knows: each code's concern, description and thresholds. Each
rule's SQL (analytics/rules/sql/<code>.sql) is written for exactly these codes and reads
its thresholds from its row, so an admin edit changes what it finds without a deployment.
Migration 0005_rule_views installs these defaults too."""

from django.db import models


class RuleConcern(models.TextChoices):
    LOCATION = "location", "A place keeps having problems"
    SLA = "sla", "Targets are missed"
    BACKLOG = "backlog", "Issues wait too long"
    QUALITY = "quality", "Fixes do not hold"
    DEMAND = "demand", "Demand is unusual"


# What each rule's SQL reads from `params`: name -> (default, meaning). The SQL files are
# written for exactly these codes; a rule of any other code finds nothing.
RULE_DEFINITIONS: dict[str, dict] = {
    "repeat_location": {
        "concern": RuleConcern.LOCATION,
        "description": "At least `count` issues within `radius_m` metres of each other, created in the last `days` days.",
        "params": {"count": (3, "issues"), "radius_m": (50, "metres"), "days": (30, "days")},
    },
    "chronic_breach": {
        "concern": RuleConcern.SLA,
        "description": (
            "An area where at least `share` of the issues resolved in the last `days` days missed "
            "their resolution target, out of at least `min_resolved`."
        ),
        "params": {"share": (0.3, "share, 0 to 1"), "min_resolved": (10, "issues"), "days": (30, "days")},
    },
    "aging_open": {
        "concern": RuleConcern.BACKLOG,
        "description": "An area with at least `count` open issues older than `days` days.",
        "params": {"count": (5, "issues"), "days": (30, "days")},
    },
    "reopened": {
        "concern": RuleConcern.QUALITY,
        "description": "An issue reopened at least `count` times in the last `days` days.",
        "params": {"count": (1, "reopenings"), "days": (30, "days")},
    },
    "category_surge": {
        "concern": RuleConcern.DEMAND,
        "description": (
            "A category with at least `min_count` issues in the last `days` days and at least `ratio` "
            "times its usual rate over the `baseline_days` before."
        ),
        "params": {
            "days": (7, "days"),
            "baseline_days": (56, "days"),
            "ratio": (2.0, "times"),
            "min_count": (5, "issues"),
        },
    },
}
