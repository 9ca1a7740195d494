"""The database backend: django-tenants' PostgreSQL backend, with two round trips fewer
per request (see base.py)."""
