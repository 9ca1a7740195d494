"""Signals other apps listen to. Sent after commit, with ids only."""

from django.dispatch import Signal

# Something residents may be told about happened to an issue: a status change or a
# public note. Sent with `event_id` (an IssueEvent id) once the change is committed.
issue_public_change = Signal()
