"""Fill a demo tenant with reports through the real intake and pipeline, then move its
issues through the workflow the way staff would, so every page has something to show."""

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from civicpulse.demo.report_texts import CAMPUS_PLACES, CITY_STREETS, HOTEL_PLACES, TEMPLATES
from civicpulse.demo.tenants import HISTORY_DAYS, DemoTenant
from issues.models import Category, Issue, IssueStatus
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process

# Share of reports that repeat a recent problem, as neighbours do.
DUPLICATE_SHARE = 0.25


def _text(rng: random.Random, code: str, kind: str) -> str:
    template = rng.choice(TEMPLATES.get(code) or TEMPLATES["other"])
    street, street2 = rng.sample(CITY_STREETS, 2)
    places = {"campus": CAMPUS_PLACES, "hotel": HOTEL_PLACES}.get(kind, CAMPUS_PLACES)
    place = rng.choice(places).format(room=rng.choice([101, 114, 207, 215, 302, 318, 404, 412]))
    return template.format(n=rng.randint(1, 480), street=street, street2=street2, place=place)


def _point(rng: random.Random, center: tuple[float, float], spread_m: float) -> tuple[float, float]:
    lat, lon = center
    dlat = rng.gauss(0, spread_m) / METRES_PER_DEGREE
    dlon = rng.gauss(0, spread_m) / metres_per_degree_lon(lat)
    return round(lat + dlat, 6), round(lon + dlon, 6)


def seed_reports(demo: DemoTenant, count: int, progress: Callable[[int], object]) -> int:
    """Submit `count` reports over the last HISTORY_DAYS in the current tenant's schema and
    process each through the pipeline. Returns how many were created."""
    rng = random.Random(f"civicpulse-demo-{demo.slug}")
    codes = list(Category.objects.filter(active=True).values_list("code", flat=True))
    now = timezone.now()
    spread = {"city": 1400.0, "campus": 300.0, "hotel": 40.0}.get(demo.kind, 300.0)
    times = sorted(now - timedelta(days=HISTORY_DAYS * rng.random() ** 1.3) for _ in range(count))
    recent: list[tuple[str, float, float, str]] = []
    for at in times:
        if recent and rng.random() < DUPLICATE_SHARE:
            code, lat, lon, _ = rng.choice(recent[-30:])
            lat, lon = _point(rng, (lat, lon), 8.0)
        else:
            code = rng.choice(codes)
            lat, lon = _point(rng, demo.center, spread)
        text = _text(rng, code, demo.kind)
        chosen = code if rng.random() < 0.5 else None  # half the residents pick a category
        report = report_submit(
            description=text,
            latitude=lat,
            longitude=lon,
            category_code=chosen,
            email=f"resident{rng.randint(1, 999)}@example.org" if rng.random() < 0.4 else "",
            channel=rng.choice([Report.Channel.WEB, Report.Channel.WEB, Report.Channel.API]),
            submitted_at=at,
            enqueue=False,
        ).report
        report_process(report_id=report.pk)
        recent.append((code, lat, lon, text))
        progress(1)
    _work_the_issues(rng, now)
    return count


def _work_the_issues(rng: random.Random, now: datetime) -> None:
    """Older issues are mostly resolved or closed, recent ones mostly open or in hand."""
    for issue in Issue.objects.filter(status=IssueStatus.OPEN).order_by("created_at"):
        age_days = (now - issue.created_at).total_seconds() / 86400
        done = min(0.92, age_days / 12)
        roll = rng.random()
        at = issue.created_at + timedelta(hours=rng.uniform(0.3, 30))
        if at >= now or roll > done + (1 - done) * 0.6:
            continue  # still open
        issue_transition(
            issue_id=issue.pk, to_status=IssueStatus.ACKNOWLEDGED, actor_label="demo staff", at=at
        )
        at += timedelta(hours=rng.uniform(1, 48))
        if at >= now or roll > done + (1 - done) * 0.3:
            continue
        issue_transition(
            issue_id=issue.pk, to_status=IssueStatus.IN_PROGRESS, actor_label="demo staff", at=at
        )
        at += timedelta(hours=rng.expovariate(1 / 60))
        if at >= now or roll > done:
            continue
        issue_transition(issue_id=issue.pk, to_status=IssueStatus.RESOLVED, actor_label="demo staff", at=at)
        at += timedelta(days=rng.uniform(1, 7))
        if at < now and rng.random() < 0.7:
            issue_transition(issue_id=issue.pk, to_status=IssueStatus.CLOSED, actor_label="demo staff", at=at)
