"""Writes of the SLA engine, one module per concern: policies, calendar, pauses,
evaluation (with metrics) and notifications."""
