"""Set-based twins of the issue logic, for loads of thousands to millions of rows at once
(the bulk import, the SLA pass): grouping rows into issues, placing them in areas, writing
the issues, recording events. They apply the live pipeline's rules (issues.services,
issues.selectors) in SQL.

The import's functions (grouping, areas, writes) take a cursor and the name of a work schema: a schema of unlogged tables
the caller creates for one load and drops with it. The tables they share:

- `{work}.grouping` (id, radius, window_hours): each category's grouping distance and
  window; made by `grouping.grouping_rules_create`.
- `{work}.valid`: made by the caller, one row per record to load, with at least line
  (unique, the record's position in its source), created_at, closed_at, status,
  category_id, department_id, severity, radius, window_hours (from `{work}.grouping`),
  description, address_key, lat, lon. Any other column rides along into `{work}.assign`.
- `{work}.links` (line, parent_line, issue_id, method): made by the caller, the links the
  source states itself (a record naming its parent: a line of `valid`, or an issue).
- `{work}.roots` and `{work}.assign`: made by `grouping.rows_group`; `assign` is `valid`
  (which it replaces) with each row's issue_id, method, opens (the row opens its issue)
  and existing (the issue was in the tenant before).
- `{work}.area_parts`: made by `areas.area_parts_create`.

Nothing here knows who the rows come from: this package imports nothing of `reports`.
"""
