from django.contrib.admin import apps as admin_apps


class CivicPulseAdminConfig(admin_apps.AdminConfig):
    """The admin, with third-party model admins scoped once every app has registered.
    (Not the `civicpulse` app's own config: that stays Django's default.)"""

    default = False

    def ready(self) -> None:
        super().ready()
        from django_celery_beat.models import (
            ClockedSchedule,
            CrontabSchedule,
            IntervalSchedule,
            PeriodicTask,
            SolarSchedule,
        )
        from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

        from civicpulse.core.admin import restrict_to_platform, restrict_to_tenants

        # Schedules are the operators' business: a periodic task edited by a tenant's staff
        # could name another tenant's schema in its headers, or collide by name and stall beat.
        restrict_to_platform(PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule)
        # Analysts' refresh tokens live in each tenant's schema: the platform has none.
        restrict_to_tenants(OutstandingToken, BlacklistedToken)
