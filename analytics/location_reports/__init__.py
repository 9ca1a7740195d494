"""Location accountability reports: a place resolved, its findings, a narrative written
from them, stored whole, as JSON and PDF (docs/location-reports.md)."""
