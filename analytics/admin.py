"""Django's admin autodiscovery imports this module: the subpackages' admin modules,
imported here so they register their models. The Issue admin is not registered here:
civicpulse/admin.py composes it from the SLA and location-report mixins."""

import analytics.dashboards.admin  # noqa: F401
import analytics.location_reports.admin  # noqa: F401
import analytics.property.admin  # noqa: F401
import analytics.records.admin  # noqa: F401
import analytics.rules.admin  # noqa: F401
import analytics.scores.admin  # noqa: F401
import analytics.sla.admin  # noqa: F401
