"""Writes on the taxonomy and on issues, one module per concern: `taxonomy` (a tenant's
categories, departments, areas), `grouping` (a report's fields into an open issue or a
new one), `workflow` (status, assignment, notes, edits, placement and the trail) and
`operations` (what merges, moves and undos of reports between issues change on the
issues themselves; the reports app carries those operations out)."""
