"""The SLA engine: versioned policies, the business calendar and its working intervals,
pause reasons and pauses, the state of open issues, threshold crossings and metrics.
Existing tenants get the defaults new ones are provisioned with."""
import datetime

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def defaults_install(apps, schema_editor) -> None:
    """Monday to Friday 9-17 and the four pause reasons (analytics.services keeps the
    same defaults for new tenants)."""
    calendar, created = apps.get_model("analytics", "BusinessCalendar").objects.get_or_create(id=1)
    if created:
        apps.get_model("analytics", "OpeningHours").objects.bulk_create(
            apps.get_model("analytics", "OpeningHours")(
                calendar=calendar, weekday=d, opens=datetime.time(9), closes=datetime.time(17)
            )
            for d in range(5)
        )
    PauseReason = apps.get_model("analytics", "PauseReason")
    for code, name in [
        ("contractor", "Waiting on a contractor"), ("parts", "Waiting on parts"),
        ("weather", "Waiting on the weather"), ("resident", "Waiting on the resident"),
    ]:
        PauseReason.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0001_initial'),
        ('issues', '0010_sla_event_kinds'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='BusinessCalendar',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(default='Business hours', max_length=100)),
                ('materialised_timezone', models.CharField(blank=True, editable=False, max_length=64)),
                ('horizon_start', models.DateField(blank=True, editable=False, null=True)),
                ('horizon_end', models.DateField(blank=True, editable=False, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='CalendarInterval',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('start_at', models.DateTimeField(unique=True)),
                ('end_at', models.DateTimeField()),
                ('cum_before', models.FloatField()),
                ('cum_after', models.FloatField(db_index=True)),
            ],
            options={
                'ordering': ['start_at'],
            },
        ),
        migrations.CreateModel(
            name='Holiday',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField()),
                ('name', models.CharField(max_length=100)),
            ],
            options={
                'ordering': ['date'],
            },
        ),
        migrations.CreateModel(
            name='IssuePause',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('note', models.CharField(blank=True, max_length=300)),
            ],
            options={
                'ordering': ['started_at'],
            },
        ),
        migrations.CreateModel(
            name='IssueSla',
            fields=[
                ('issue', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='sla', serialize=False, to='issues.issue')),
                ('ack_due_at', models.DateTimeField(null=True)),
                ('resolve_due_at', models.DateTimeField(null=True)),
                ('next_due_at', models.DateTimeField(null=True)),
                ('ack_used', models.FloatField(help_text='Share of the acknowledgement target used (1 = all of it).')),
                ('resolve_used', models.FloatField(help_text='Share of the resolution target used (1 = all of it).')),
                ('paused_seconds', models.FloatField(default=0, help_text="Paused time, in the policy's hours.")),
                ('paused', models.BooleanField(default=False)),
                ('state', models.CharField(choices=[('on_track', 'On track'), ('at_risk', 'At risk'), ('breached', 'Breached')], max_length=10)),
                ('evaluated_at', models.DateTimeField()),
            ],
            options={
                'verbose_name': 'SLA state',
            },
        ),
        migrations.CreateModel(
            name='OpeningHours',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('weekday', models.PositiveSmallIntegerField(choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')])),
                ('opens', models.TimeField()),
                ('closes', models.TimeField()),
            ],
            options={
                'verbose_name_plural': 'opening hours',
                'ordering': ['weekday', 'opens'],
            },
        ),
        migrations.CreateModel(
            name='PauseReason',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(unique=True)),
                ('name', models.CharField(max_length=100)),
                ('active', models.BooleanField(default=True)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='SlaCrossing',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('target', models.CharField(choices=[('acknowledge', 'Acknowledgement'), ('resolve', 'Resolution')], max_length=12)),
                ('threshold', models.PositiveSmallIntegerField(help_text='Percent of the target: 50, 75 or 100 (breach).')),
                ('crossed_at', models.DateTimeField(help_text='When the threshold was reached.')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recipient', models.EmailField(blank=True, max_length=254)),
                ('notified_at', models.DateTimeField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name='SlaMetric',
            fields=[
                ('issue', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='sla_metric', serialize=False, to='issues.issue')),
                ('clock', models.CharField(choices=[('business', 'Business hours'), ('calendar', 'Calendar hours')], max_length=10)),
                ('severity', models.CharField(choices=[('low', 'Low'), ('medium', 'Medium'), ('high', 'High'), ('critical', 'Critical')], max_length=10)),
                ('created_at', models.DateTimeField()),
                ('resolved_at', models.DateTimeField()),
                ('ack_seconds', models.FloatField(help_text="Time to acknowledge in the policy's hours, pauses excluded.")),
                ('resolve_seconds', models.FloatField()),
                ('ack_target_seconds', models.FloatField()),
                ('resolve_target_seconds', models.FloatField()),
                ('ack_met', models.BooleanField()),
                ('resolve_met', models.BooleanField()),
                ('paused_seconds', models.FloatField()),
                ('computed_at', models.DateTimeField()),
            ],
            options={
                'verbose_name': 'SLA metric',
            },
        ),
        migrations.AlterModelOptions(
            name='slapolicy',
            options={'ordering': ['category__name', 'severity', '-version'], 'verbose_name': 'SLA policy', 'verbose_name_plural': 'SLA policies'},
        ),
        # Schemas cloned by an earlier version of the template copy carry the first
        # constraint under PostgreSQL's default name; drop whichever is there.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name='slapolicy', name='sla_policy_unique_category_severity'),
                migrations.RemoveConstraint(model_name='slapolicy', name='sla_policy_unique_default_severity'),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE analytics_slapolicy DROP CONSTRAINT IF EXISTS sla_policy_unique_category_severity;"
                    "ALTER TABLE analytics_slapolicy DROP CONSTRAINT IF EXISTS analytics_slapolicy_category_id_severity_key;"
                    "DROP INDEX IF EXISTS sla_policy_unique_default_severity;",
                    migrations.RunSQL.noop,
                ),
            ],
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='clock',
            field=models.CharField(choices=[('business', 'Business hours'), ('calendar', 'Calendar hours')], default='business', help_text="Business hours follow the tenant's calendar; calendar hours count every hour.", max_length=10),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='created_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='effective_from',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='superseded_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddConstraint(
            model_name='slapolicy',
            constraint=models.UniqueConstraint(condition=models.Q(('superseded_at__isnull', True)), fields=('category', 'severity'), name='sla_policy_unique_category_severity'),
        ),
        migrations.AddConstraint(
            model_name='slapolicy',
            constraint=models.UniqueConstraint(condition=models.Q(('category__isnull', True), ('superseded_at__isnull', True)), fields=('severity',), name='sla_policy_unique_default_severity'),
        ),
        migrations.AddConstraint(
            model_name='slapolicy',
            constraint=models.UniqueConstraint(fields=('category', 'severity', 'version'), name='sla_policy_unique_version'),
        ),
        migrations.AddConstraint(
            model_name='businesscalendar',
            constraint=models.CheckConstraint(condition=models.Q(('id', 1)), name='businesscalendar_single_row'),
        ),
        migrations.AddField(
            model_name='holiday',
            name='calendar',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='holidays', to='analytics.businesscalendar'),
        ),
        migrations.AddField(
            model_name='issuepause',
            name='ended_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='issuepause',
            name='issue',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sla_pauses', to='issues.issue'),
        ),
        migrations.AddField(
            model_name='issuepause',
            name='started_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='issuesla',
            name='policy',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='analytics.slapolicy'),
        ),
        migrations.AddField(
            model_name='openinghours',
            name='calendar',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='opening_hours', to='analytics.businesscalendar'),
        ),
        migrations.AddField(
            model_name='issuepause',
            name='reason',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='pauses', to='analytics.pausereason'),
        ),
        migrations.AddField(
            model_name='slacrossing',
            name='event',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='issues.issueevent'),
        ),
        migrations.AddField(
            model_name='slacrossing',
            name='issue',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sla_crossings', to='issues.issue'),
        ),
        migrations.AddField(
            model_name='slametric',
            name='category',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='issues.category'),
        ),
        migrations.AddField(
            model_name='slametric',
            name='policy',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='metrics', to='analytics.slapolicy'),
        ),
        migrations.AddConstraint(
            model_name='holiday',
            constraint=models.UniqueConstraint(fields=('calendar', 'date'), name='holiday_unique_date'),
        ),
        migrations.AddIndex(
            model_name='issuesla',
            index=models.Index(fields=['state', 'next_due_at'], name='issuesla_state_due'),
        ),
        migrations.AddIndex(
            model_name='issuepause',
            index=models.Index(fields=['issue', 'started_at'], name='issuepause_issue_start'),
        ),
        migrations.AddConstraint(
            model_name='issuepause',
            constraint=models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True)), fields=('issue',), name='issuepause_one_open'),
        ),
        migrations.AddConstraint(
            model_name='issuepause',
            constraint=models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), ('ended_at__gte', models.F('started_at')), _connector='OR'), name='issuepause_ends_after_start'),
        ),
        migrations.AddIndex(
            model_name='slacrossing',
            index=models.Index(condition=models.Q(('notified_at__isnull', True), models.Q(('recipient', ''), _negated=True)), fields=['recorded_at'], name='slacrossing_pending'),
        ),
        migrations.AddConstraint(
            model_name='slacrossing',
            constraint=models.UniqueConstraint(fields=('issue', 'target', 'threshold'), name='slacrossing_once'),
        ),
        migrations.AddIndex(
            model_name='slametric',
            index=models.Index(fields=['resolved_at'], name='slametric_resolved'),
        ),
        migrations.RunPython(defaults_install, migrations.RunPython.noop),
    ]
