"""Send a probe task through each queue in a tenant's schema and report the round trip."""

import time

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from civicpulse.core.workers import QUEUES
from tenants.commands import tenant_for_command
from tenants.tasks import schema_probe


class Command(BaseCommand):
    help = "Check that every queue's workers run tasks in the right tenant schema."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, slug: str, timeout: float, **options: object) -> None:
        tenant = tenant_for_command(slug)
        failed = False
        for queue in QUEUES:
            started = time.monotonic()
            with tenant_context(tenant):
                result = schema_probe.apply_async(queue=queue)
            try:
                answer = result.get(timeout=timeout)
            except Exception as exc:
                self.stdout.write(f"{queue}: no answer ({type(exc).__name__})")
                failed = True
                continue
            ms = (time.monotonic() - started) * 1000
            self.stdout.write(f"{queue}: schema={answer['schema']} worker={answer['worker']} ms={ms:.0f}")
            failed |= answer["schema"] != slug
        if failed:
            raise CommandError("Some queues are not served correctly.")
