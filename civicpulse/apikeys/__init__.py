"""Integrator API keys: the credential of every integrator door (the reports, issues and
analytics API, and Open311 posts), below the domain apps that use it."""
