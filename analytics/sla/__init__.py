"""Service levels: policies, the business calendar, pauses, the evaluation pass, metrics
and notifications (docs/sla.md)."""
