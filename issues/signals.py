"""Signals other apps listen to. Sent after commit, with ids only."""

from django.dispatch import Signal

# Something residents may be told about happened to an issue: a status change or a
# public note. Sent with `event_id` (an IssueEvent id) once the change is committed.
issue_public_change = Signal()

# The same change, sent inside its transaction (before commit), with `event_id`: for
# listeners whose bookkeeping must commit or roll back with the change (the pending
# marker the notification sweep works from).
issue_public_change_recorded = Signal()
