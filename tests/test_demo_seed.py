"""Demo seeding goes through the real intake and pipeline and leaves issues in every state."""

from collections import Counter

from civicpulse.demo.seed import seed_reports
from civicpulse.demo.tenants import DEMO_TENANTS
from issues.models import Issue, IssueEvent
from reports.models import Report


def test_seed_reports_fills_a_tenant_through_the_pipeline(tenant_a) -> None:
    city = next(d for d in DEMO_TENANTS if d.kind == "city")
    ticks: list[int] = []
    assert seed_reports(city, 120, ticks.append) == 120
    assert sum(ticks) == 120  # progress is reported per report
    assert Report.objects.count() == 120
    assert set(Report.objects.values_list("status", flat=True)) == {"processed"}
    assert not Report.objects.filter(issue=None).exists()
    statuses = Counter(Issue.objects.values_list("status", flat=True))
    assert {"open", "resolved", "closed"} <= set(statuses)
    assert Issue.objects.filter(report_count__gt=1).exists()  # neighbours reported the same thing
    # Issue report counts agree with the reports linked to them.
    for issue in Issue.objects.all():
        assert issue.report_count == issue.reports.count()
    # Workflow moves were recorded as events after the issue was created.
    moved = IssueEvent.objects.filter(kind="status_changed").select_related("issue")
    assert moved.exists() and all(e.created_at >= e.issue.created_at for e in moved)
