"""The issue's side of erasing a reporter (the reports app erases the reporter's data):
a mark on the trail that it happened, and, when staff redact the reporter's words, those
words taken out of the issue they were copied into."""

from django.contrib.auth.models import User
from django.db import transaction

from issues.models import Issue, IssueEvent
from issues.services.grouping import _title_from
from issues.services.workflow import issue_event_record

REDACTED_TEXT = "[Removed at the reporter's request.]"


@transaction.atomic
def issue_reporter_erased(
    *, issue_id: int, reports: int, redacted: list[tuple[str, str]], actor: User | None
) -> IssueEvent:
    """Record that a reporter's data was erased from `reports` of the issue's reports
    (how many, and whether their words went too; never whose). `redacted` holds the
    (text, summary) of each report whose words staff removed: where the issue copied them
    (the first report's text, and the title and summary made from it), they go too."""
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    for text, summary in redacted:
        if not issue.text or issue.text != text:
            continue
        if issue.title == _title_from(issue.summary, issue.text):  # not retitled by staff since
            issue.title = issue.category.name if issue.category else "Untitled"
        if issue.summary and issue.summary == summary:
            issue.summary = ""
        issue.text = REDACTED_TEXT
        issue.save(update_fields=["text", "title", "summary", "updated_at"])
    return issue_event_record(
        issue_id=issue_id,
        kind=IssueEvent.Kind.REPORTER_DATA_ERASED,
        actor=actor,
        data={"reports": reports, "text_redacted": bool(redacted)},
    )
