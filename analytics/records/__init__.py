"""City records behind property risk profiles: the record datasets and their loaders,
parcels, the Socrata fetcher, and the rule engine's three SQL views (docs/records.md)."""
