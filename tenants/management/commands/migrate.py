"""Plain `migrate` (as the test runner calls it) behaves like `migrate_schemas`."""

from tenants.management.commands.migrate_schemas import Command  # noqa: F401
