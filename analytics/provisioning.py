"""What a new tenant gets from analytics (a TENANT_PROVISIONING_HOOKS entry): SLA
policies, pause reasons and a business calendar, score settings and the rules."""

from django.db import transaction

from analytics.records.rule_services import property_rules_install_defaults
from analytics.rules.services import rules_install_defaults
from analytics.scores.services import score_settings_install_default
from analytics.sla.services.calendar import calendar_install_default
from analytics.sla.services.pauses import pause_reasons_install_defaults
from analytics.sla.services.policies import sla_policies_install_defaults
from tenants.models import Tenant


@transaction.atomic
def analytics_install_defaults(*, tenant: Tenant) -> int:
    """Install analytics' defaults in the current schema. Idempotent, so it also brings an
    existing tenant up to date. Returns how many SLA policies were created."""
    created = sla_policies_install_defaults()
    pause_reasons_install_defaults()
    calendar_install_default()
    score_settings_install_default()
    rules_install_defaults()
    # Property risk profiles are a capability of city tenants.
    if tenant.kind == Tenant.Kind.CITY:
        property_rules_install_defaults()
    return created
