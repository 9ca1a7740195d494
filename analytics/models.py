"""Django registers an app's models through this module: `analytics` is one app (label
`analytics`, one migration history) whose models live in its subpackages, imported here
so they are registered. Import them from their subpackage, not from here."""

import analytics.location_reports.models  # noqa: F401
import analytics.property.models  # noqa: F401
import analytics.records.models  # noqa: F401
import analytics.records.rule_models  # noqa: F401
import analytics.rules.models  # noqa: F401
import analytics.scores.models  # noqa: F401
import analytics.sla.models  # noqa: F401
