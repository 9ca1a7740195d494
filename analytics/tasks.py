"""Celery finds an app's tasks through this module: the subpackages' tasks, imported here
so they are registered. Import them from their subpackage, not from here."""

import analytics.records.tasks  # noqa: F401
import analytics.rules.tasks  # noqa: F401
import analytics.scores.tasks  # noqa: F401
import analytics.sla.tasks  # noqa: F401
