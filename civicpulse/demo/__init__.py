"""Demo tenants, their generated reports and a year of generated 311 history. On top of
every app, imported by none: `make run` seeds with it, nothing in production needs it."""
