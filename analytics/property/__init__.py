"""Property risk profiles of city tenants: the four-tier lookup, stored property reports
(JSON, PDF), the property API, and signed-in analysts with their JWTs
(docs/property.md). Every figure comes from the record views (analytics.records); the
language model only narrates them."""
