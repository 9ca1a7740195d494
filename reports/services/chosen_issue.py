"""The issue a resident chose for their report ("Me too" on the report form's list of
issues already reported nearby), checked at intake: an open issue of this tenant, which
the tenant publishes, close to the report's point. Grouping then links the report to it
while it is still open (issues.services.grouping)."""

from django.utils.translation import gettext as _

from civicpulse.core.geo import PUBLIC_POINT_DECIMALS, great_circle_m
from issues.models import OPEN_STATUSES, Issue
from reports.public_issues import publication

# How far the chosen issue may lie from the report's point. The list offers issues
# within 200 m of it, as published (rounded by up to 80 m where the tenant rounds points),
# and the resident may move the pin a little after choosing: farther than this is
# another place.
CHOSEN_ISSUE_MAX_M = 500


def chosen_issue_errors(*, issue_id: int, latitude: float | None, longitude: float | None) -> list[str]:
    """Why the report cannot join the chosen issue (empty: it can)."""
    shown = publication()
    if not shown.public:
        return [_("This place does not publish its issues: describe the problem in your own report.")]
    if latitude is None or longitude is None:
        return [_("Choose the place on the map to add your report to a problem already reported there.")]
    issue = Issue.objects.filter(pk=issue_id).values_list("status", "latitude", "longitude").first()
    status, issue_latitude, issue_longitude = issue if issue is not None else ("", None, None)
    if issue_latitude is None or issue_longitude is None:
        return [_("That problem cannot be found here. Send your report on its own.")]
    if status not in OPEN_STATUSES:
        return [_("That problem has been closed since. Send your report on its own.")]
    if shown.rounded:
        # Measured from the point as published: from the exact one, refusals at the edge
        # of the circle would tell a prober the point the tenant rounds for the public.
        issue_latitude = round(issue_latitude, PUBLIC_POINT_DECIMALS)
        issue_longitude = round(issue_longitude, PUBLIC_POINT_DECIMALS)
    if great_circle_m(latitude, longitude, issue_latitude, issue_longitude) > CHOSEN_ISSUE_MAX_M:
        return [
            _("That problem is more than %(metres)s m from the place you chose. Send your report on its own.")
            % {"metres": CHOSEN_ISSUE_MAX_M}
        ]
    return []
