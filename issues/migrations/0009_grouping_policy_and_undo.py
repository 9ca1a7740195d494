"""Grouping thresholds per tenant (GroupingPolicy) with per-category overrides, and the
"undone" event kind."""

import django.core.validators
from django.db import migrations, models


def policy_install(apps, schema_editor) -> None:
    """Each schema gets its policy row, and categories still at the old built-in values
    (50 m, 168 h, 0.1) follow it instead: those are the policy's defaults too, so nothing
    groups differently until staff change the policy."""
    apps.get_model("issues", "GroupingPolicy").objects.get_or_create(id=1)
    Category = apps.get_model("issues", "Category")
    Category.objects.filter(group_radius_m=50).update(group_radius_m=None)
    Category.objects.filter(group_window_hours=168).update(group_window_hours=None)
    Category.objects.filter(group_min_similarity=0.1).update(group_min_similarity=None)


def policy_remove(apps, schema_editor) -> None:
    Category = apps.get_model("issues", "Category")
    Category.objects.filter(group_radius_m=None).update(group_radius_m=50)
    Category.objects.filter(group_window_hours=None).update(group_window_hours=168)
    Category.objects.filter(group_min_similarity=None).update(group_min_similarity=0.1)


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0008_issue_search_trgm'),
    ]

    operations = [
        migrations.AddField(
            model_name='category',
            name='group_borderline_high',
            field=models.FloatField(blank=True, help_text="Scores from here up join without asking. Empty: the tenant's default.", null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='borderline to'),
        ),
        migrations.AddField(
            model_name='category',
            name='group_borderline_low',
            field=models.FloatField(blank=True, help_text="Scores from here up to “borderline to” are borderline: a language model, when configured, may be asked. Empty: the tenant's default.", null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='borderline from'),
        ),
        migrations.AddField(
            model_name='category',
            name='group_join_score',
            field=models.FloatField(blank=True, help_text="Grouping score (0 to 1) a candidate needs to be joined. Empty: the tenant's default.", null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='join score'),
        ),
        migrations.AlterField(
            model_name='category',
            name='group_min_similarity',
            field=models.FloatField(blank=True, help_text="Trigram similarity (0 to 1) a report's text needs with the issue's to be a candidate. Empty: the tenant's default.", null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='minimum text similarity'),
        ),
        migrations.AlterField(
            model_name='category',
            name='group_radius_m',
            field=models.PositiveIntegerField(blank=True, help_text="Reports farther apart are different problems. Empty: the tenant's default.", null=True, verbose_name='grouping distance (m)'),
        ),
        migrations.AlterField(
            model_name='category',
            name='group_window_hours',
            field=models.PositiveIntegerField(blank=True, help_text="How long after an issue's latest report another may join it. Empty: the tenant's default.", null=True, verbose_name='grouping window (hours)'),
        ),
        migrations.AlterField(
            model_name='issueevent',
            name='kind',
            field=models.CharField(choices=[('created', 'Created'), ('report_linked', 'Report linked'), ('report_corrected', 'Report corrected'), ('status_changed', 'Status changed'), ('assigned', 'Assigned'), ('updated', 'Updated'), ('note_added', 'Note added'), ('merged', 'Merged'), ('reports_moved', 'Reports moved'), ('undone', 'Undone')], max_length=30),
        ),
        migrations.CreateModel(
            name='GroupingPolicy',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                ('radius_m', models.PositiveIntegerField(default=50, help_text='Reports farther apart are different problems.', verbose_name='grouping distance (m)')),
                ('window_hours', models.PositiveIntegerField(default=168, help_text="How long after an issue's latest report another may join it.", verbose_name='grouping window (hours)')),
                ('min_similarity', models.FloatField(default=0.1, help_text="Trigram similarity (0 to 1) a report's text needs with the issue's to be a candidate at all.", validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='minimum text similarity')),
                ('join_score', models.FloatField(default=0.55, help_text='Grouping score (0 to 1) the best candidate needs to be joined.', validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)])),
                ('borderline_low', models.FloatField(default=0.45, help_text='Below this score a report never joins. From here up to “borderline to” a language model, when configured, is asked; without an answer the join score decides.', validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='borderline from')),
                ('borderline_high', models.FloatField(default=0.7, help_text='From this score up a report joins without asking.', validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)], verbose_name='borderline to')),
            ],
            options={
                'verbose_name': 'grouping policy',
                'verbose_name_plural': 'grouping policy',
                'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='groupingpolicy_single_row'), models.CheckConstraint(condition=models.Q(('borderline_low__lte', models.F('join_score')), ('join_score__lte', models.F('borderline_high'))), name='groupingpolicy_bounds_nest')],
            },
        ),
        migrations.RunPython(policy_install, policy_remove),
    ]
