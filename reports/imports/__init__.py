"""Bulk import of open-data 311 exports: the file goes through PostgreSQL COPY into a
staging table as it is, then set-based SQL applies the intake's rules. Imported reports
are born `processed` with their issues; the live pipeline and the sweeper never see them.

Formats: `publicstuff` (PublicStuff export: Unix-second dates, no closing time),
`chicago311` (City of Chicago "311 Service Requests": `MM/DD/YYYY hh:mm:ss AM` or ISO
8601 dates in the tenant's time zone, PARENT_SR_NUMBER grouping, split address columns)
and `mapped` (any CSV, through a YAML mapping).

- `load`: `import_reports`, the entry point, and the order of the steps;
- `formats`: the formats, `Mapping`, the columns each requires, source statuses;
- `files`: opening the file, its checksum and header, COPY into the staging table;
- `checks`: parsing dates and coordinates, the reasons rows are rejected, tracking ids;
- `standardise`: categories, addresses, and the rows to load (one per source id);
- `grouping`: the parent links the source states (the rest is `issues.bulk.grouping`);
- `writes`: reports and locations (issues are written by `issues.bulk.writes`);
- `tables`: the tables' locks, and the indexes dropped and rebuilt around an onboarding load.

All SQL is composed one way, through `civicpulse.core.sql`.
"""
