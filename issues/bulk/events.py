"""Recording issue events set-based: the twin of `issue_event_record` for statements that
record many events at once (the SLA pass records every threshold crossing it finds in
one statement), so every write to the events table stays the issues app's."""

# A new event id, drawn inside a statement that needs the id before the row is written
# (to point other rows at the event).
EVENT_ID_SQL = "nextval(pg_get_serial_sequence('issues_issueevent', 'id'))"


def issue_events_insert_sql(source: str) -> str:
    """A data-modifying statement for a WITH clause: one event per row of `source` (a
    common table expression or table with the columns event_id, issue_id, kind,
    actor_label, created_at and data), returning 1 per event written."""
    return (
        "INSERT INTO issues_issueevent (id, issue_id, kind, actor_label, created_at, data) "
        f"SELECT event_id, issue_id, kind, actor_label, created_at, data FROM {source} RETURNING 1"
    )
