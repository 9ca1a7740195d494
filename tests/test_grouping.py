"""The grouping score: its parts, the thresholds per category with the tenant's defaults,
the borderline band and its adjudicator, and the triage order of the console."""

import ast
import math
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from issues.match_score import WEIGHTS
from issues.models import Category, GroupingPolicy, Issue
from issues.selectors import grouping_thresholds
from issues.services.grouping import GroupingResult, issue_group_report
from tests.support.factories import IssueFactory

LAT, LON = 39.8000, -89.6400
ISSUE_TEXT = "Deep pothole in the road outside the bakery on Main Street"
REPORT_TEXT = "Pothole outside the bakery on Main Street getting deeper"


def group(
    text: str,
    *,
    lat: float = LAT,
    lon: float = LON,
    at=None,
    category: str | None = "potholes",
    adjudicate=None,
) -> GroupingResult:
    return issue_group_report(
        text=text,
        summary="",
        category=Category.objects.get(code=category) if category else None,
        severity="medium",
        latitude=lat,
        longitude=lon,
        address_key="",
        at=at or timezone.now(),
        report_ref="test",
        adjudicate=adjudicate,
    )


def band(**values: float) -> None:
    """Set the potholes category's score thresholds."""
    Category.objects.filter(code="potholes").update(**{f"group_{k}": v for k, v in values.items()})


def test_the_score_is_its_weighted_parts_and_the_record_explains_it(tenant_a) -> None:
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    # 20 m away, three hours later, reworded: the same problem.
    second = group(REPORT_TEXT, lat=LAT + 0.00018, at=now + timedelta(hours=3))
    assert not second.created and second.issue == first.issue
    match = second.match
    assert match["method"] == "geo" and match["category_relation"] == "same"
    parts = match["parts"]
    assert parts["category"] == 1.0 and parts["text"] == match["similarity"]
    assert parts["distance"] == pytest.approx(1 - match["distance_m"] / 50, abs=0.002)
    assert parts["time"] == pytest.approx(1 - 3 / 168, abs=0.001)
    assert match["weights"] == WEIGHTS and sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert match["score"] == round(sum(WEIGHTS[k] * v for k, v in parts.items()), 3)
    assert 0 <= match["score"] <= 1
    # The reworded text shares most of its trigrams with the issue's (similarity 0.703):
    # 0.4 * 0.703 + 0.25 * (1 - 20 / 50) + 0.15 * (1 - 3 / 168) + 0.2 * 1.0 = 0.778, above
    # the top of the borderline band (0.7), so it joins without asking.
    assert match["similarity"] == pytest.approx(0.703, abs=0.005)
    assert match["score"] == pytest.approx(0.778, abs=0.005)
    assert match["decision"] == "above_band"
    assert match["thresholds"] == {
        "radius_m": 50,
        "window_hours": 168,
        "min_similarity": 0.1,
        "join_score": 0.55,
        "borderline": [0.45, 0.7],
        "from_category": [],
    }
    # The trail of the issue carries the same reasons, and the issue page says them in words.
    linked = first.issue.events.get(kind="report_linked")
    assert linked.data["score"] == match["score"] and linked.data["parts"] == parts
    from issues.match_score import explain_match

    assert f"same category; score {match['score']} ≥ 0.7" in explain_match(match)


def test_category_relation_is_a_part_of_the_score(tenant_a) -> None:
    potholes, sidewalks = Category.objects.get(code="potholes"), Category.objects.get(code="sidewalks")
    sidewalks.related.add(potholes)
    now = timezone.now()
    group(ISSUE_TEXT, at=now)
    same = group(ISSUE_TEXT + " again", lat=LAT + 0.0001, at=now)
    related = group(ISSUE_TEXT + " again", lat=LAT + 0.0001, at=now, category="sidewalks")
    unknown = group(ISSUE_TEXT + " again", lat=LAT + 0.0001, at=now, category=None)
    relations = [r.match["category_relation"] for r in (same, related, unknown)]
    assert relations == ["same", "related", "uncategorised"]
    assert [r.match["parts"]["category"] for r in (same, related, unknown)] == [1.0, 0.6, 0.4]
    # Everything else equal, the relation alone orders the scores.
    assert same.match["score"] > related.match["score"] > unknown.match["score"]


def test_a_batch_reads_related_categories_and_active_departments_as_one_report_does(tenant_a) -> None:
    from issues.models import Department
    from issues.selectors import category_compatible_ids
    from issues.services.grouping_batch import GroupingBatch

    potholes, sidewalks = Category.objects.get(code="potholes"), Category.objects.get(code="sidewalks")
    sidewalks.related.add(potholes, Category.objects.get(code="street_lights"))
    batch = GroupingBatch()
    for category in Category.objects.all():
        assert sorted(batch.compatible_ids(category) or []) == sorted(category_compatible_ids(category) or [])
    assert len(batch.compatible_ids(sidewalks) or []) == 3 and batch.compatible_ids(None) is None
    retired = Department.objects.create(code="old_roads", name="Old roads", active=False)
    active = Department.objects.create(code="new_roads", name="New roads")
    batch = GroupingBatch()
    assert (batch.department_id(retired.pk), batch.department_id(active.pk)) == (None, active.pk)


def test_a_batch_finds_what_moved_within_reach_as_the_distance_alone_would() -> None:
    """The latitude bound only skips points the distance would rule out: points scattered
    around the reach's edge, at several latitudes (a degree of longitude shrinks toward the
    poles; a degree of latitude does not)."""
    import random

    from civicpulse.core.geo import great_circle_m
    from issues.services.grouping_batch import _MOVED_MARGIN_M, GroupingBatch

    rng = random.Random(11)
    compared = near = 0
    for latitude in (0.0, 39.78, -51.2, 69.6):
        for radius_m in (20.0, 50.0, 200.0):
            reach = radius_m + _MOVED_MARGIN_M
            for _ in range(200):
                batch = GroupingBatch()
                # Within a few metres of the reach's edge, in any direction.
                metres, bearing = reach + rng.uniform(-3, 3), rng.uniform(0, 2 * math.pi)
                point = (
                    latitude + metres * math.cos(bearing) / 111_195,
                    metres * math.sin(bearing) / (111_195 * math.cos(math.radians(latitude))),
                )
                batch.issue_moved(*point)
                query = {"latitude": latitude, "longitude": 0.0, "radius_m": radius_m}
                expected = great_circle_m(latitude, 0.0, *point) <= reach
                assert batch._moved_near(query) == expected  # type: ignore[arg-type]
                compared += 1
                near += expected
    assert 0 < near < compared  # both answers were met


def test_per_category_values_fall_back_to_the_tenant_policy(tenant_a) -> None:
    policy = GroupingPolicy.objects.get()  # provisioning made it
    potholes = Category.objects.get(code="potholes")
    assert grouping_thresholds(potholes).radius_m == 50
    policy.radius_m, policy.join_score = 150, 0.5
    policy.save()
    potholes.group_join_score = 0.6
    potholes.save()
    thresholds = grouping_thresholds(potholes)
    assert (thresholds.radius_m, thresholds.join_score, thresholds.from_category) == (
        150,
        0.6,
        ("join_score",),
    )
    assert grouping_thresholds(None).join_score == 0.5  # uncategorised reports use the tenant's values
    # ~110 m apart: within the tenant's 150 m now, so the two reports meet.
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    second = group(ISSUE_TEXT, lat=LAT + 0.001, at=now)
    assert second.issue == first.issue and second.match["thresholds"]["radius_m"] == 150
    assert second.match["thresholds"]["from_category"] == ["join_score"]
    # A category's own radius wins over the tenant's.
    potholes.group_radius_m = 60
    potholes.save()
    third = group(ISSUE_TEXT, lat=LAT + 0.0023, at=now)
    assert third.created and third.match["candidates"] == 0


def test_score_thresholds_must_nest(tenant_a) -> None:
    potholes = Category.objects.get(code="potholes")
    potholes.group_join_score = 0.8  # above the tenant's "borderline to" (0.7)
    with pytest.raises(ValidationError) as excinfo:
        potholes.full_clean()
    assert "group_borderline_high" in excinfo.value.message_dict
    potholes.group_borderline_high = 0.9
    potholes.full_clean()
    policy = GroupingPolicy.objects.get()
    policy.borderline_low = 0.6  # above its join score (0.55)
    with pytest.raises(ValidationError):
        policy.full_clean()


def test_a_score_below_the_join_threshold_opens_a_new_issue_and_says_why(tenant_a) -> None:
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    band(borderline_low=0.99, join_score=0.99, borderline_high=0.99)
    second = group(REPORT_TEXT, at=now)
    assert second.created and second.issue != first.issue
    best = second.match["best"]
    assert second.match["method"] == "new" and best["issue"] == first.issue.pk
    assert best["decision"] == "below_band" and best["score"] < 0.99 and "parts" in best
    from issues.match_score import explain_match

    assert explain_match(second.match) == (
        f"opened the issue: the closest candidate, #{first.issue.pk}, scored {best['score']} (joining needs 0.99)"
    )


def test_a_join_writes_the_count_the_mean_point_and_a_raised_severity_and_nothing_else(tenant_a) -> None:
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now - timedelta(hours=1))
    # Bytes in the embedding too: a column a mistaken write could garble.
    Issue.objects.filter(pk=first.issue.pk).update(embedding=bytes(range(256)) * 2)
    before = Issue.objects.get(pk=first.issue.pk)
    row_before = Issue.objects.values().get(pk=before.pk)
    joined = issue_group_report(
        text=REPORT_TEXT,
        summary="",
        category=Category.objects.get(code="potholes"),
        severity="critical",
        latitude=LAT + 0.0001,
        longitude=LON - 0.0001,
        address_key="",
        at=now,
        report_ref="second",
    )
    assert not joined.created and joined.issue.pk == before.pk
    after = Issue.objects.get(pk=before.pk)
    assert after.report_count == joined.issue.report_count == 2
    assert (after.latitude, after.longitude) == ((LAT + LAT + 0.0001) / 2, (LON + LON - 0.0001) / 2)
    assert after.severity == "critical" and after.last_report_at == now
    assert after.updated_at > before.updated_at
    # Every other column stays as it was.
    written = {"latitude", "longitude", "report_count", "last_report_at", "severity", "updated_at"}
    row_after = Issue.objects.values().get(pk=before.pk)
    assert {k: v for k, v in row_after.items() if k not in written} == {
        k: v for k, v in row_before.items() if k not in written
    }
    # The returned issue reads what the join did not (loaded when first asked for).
    assert joined.issue.title == before.title
    linked = after.events.get(kind="report_linked")
    assert linked.data["severity"] == ["medium", "critical"] and linked.data["report"] == "second"
    # A join never lowers the severity.
    group(REPORT_TEXT, at=now)
    assert Issue.objects.get(pk=before.pk).severity == "critical"


class Adjudicator:
    """A plain callable standing in for the language model."""

    def __init__(self, answer: object) -> None:
        self.answer, self.calls = answer, []

    def __call__(self, report_text: str, issue_text: str) -> dict | None:
        self.calls.append((report_text, issue_text))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


# Every score below 1 is borderline; without an answer it joins (join score 0).
WIDE_BAND = {"borderline_low": 0.0, "join_score": 0.0, "borderline_high": 1.0}


@pytest.mark.parametrize(
    "answer, joins, decision",
    [
        ({"same": True, "confidence": 0.9, "reason": "same pothole"}, True, "adjudicated"),
        ({"same": False, "confidence": 0.8}, False, "adjudicated"),
        (None, True, "join_score"),  # no model, or it failed: the join score decides
        ({"confidence": 0.9}, True, "join_score"),  # no verdict in it: not an answer
        (RuntimeError("model down"), True, "join_score"),
    ],
)
def test_a_borderline_candidate_is_adjudicated(tenant_a, answer, joins: bool, decision: str) -> None:
    band(**WIDE_BAND)
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    adjudicator = Adjudicator(answer)
    second = group(REPORT_TEXT, lat=LAT + 0.0001, at=now, adjudicate=adjudicator)
    assert adjudicator.calls == [(REPORT_TEXT, ISSUE_TEXT)]
    assert (second.issue == first.issue) is joins and second.created is not joins
    recorded = second.match if joins else second.match["best"]
    assert recorded["decision"] == decision
    expected = answer if isinstance(answer, dict) else None
    assert second.match["adjudication"] == expected


def test_a_different_answer_keeps_out_what_the_join_score_would_take(tenant_a) -> None:
    band(borderline_low=0.0, join_score=0.0, borderline_high=1.0)
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    assert group(REPORT_TEXT, at=now, adjudicate=Adjudicator(None)).issue == first.issue
    kept_out = group(REPORT_TEXT, at=now, adjudicate=Adjudicator({"same": False}))
    assert kept_out.created and kept_out.match["best"]["issue"] == first.issue.pk


@pytest.mark.parametrize("threshold, joins", [(0.0, True), (1.0, False)])
def test_outside_the_band_the_adjudicator_is_not_asked(tenant_a, threshold: float, joins: bool) -> None:
    # All three at 0: every score is above the band. All at 1: every score below 1 is under it.
    band(borderline_low=threshold, join_score=threshold, borderline_high=threshold)
    now = timezone.now()
    first = group(ISSUE_TEXT, at=now)
    adjudicator = Adjudicator({"same": not joins})
    second = group(REPORT_TEXT, at=now, adjudicate=adjudicator)
    assert adjudicator.calls == []
    assert (second.issue == first.issue) is joins and "adjudication" not in second.match


def _issues_modules() -> dict[str, Path]:
    """Every module of the issues package, found by walking it (subpackages, admin,
    migrations and all), with its source file."""
    import importlib.util
    import pkgutil

    import issues

    names = [
        issues.__name__,
        *(m.name for m in pkgutil.walk_packages(issues.__path__, f"{issues.__name__}.")),
    ]
    modules = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        modules[name] = Path(spec.origin)
    # The walk missed nothing: every Python file in the folder is one of the modules.
    folder = Path(issues.__file__).resolve().parent
    assert {p.resolve() for p in folder.rglob("*.py")} == {p.resolve() for p in modules.values()}
    return modules


def _imported_names(name: str, path: Path) -> list[tuple[int, str]]:
    """Every module an `import` or `from ... import` names, at the top or inside a function
    or class, relative ones made absolute; and every module named to importlib,
    `__import__`, `import_string` or `apps.get_model`."""
    found = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__", "import_string", "get_model") and isinstance(
                node.args[0].value, str
            ):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_issues_app_imports_neither_llm_nor_reports() -> None:
    modules = _issues_modules()
    assert {"issues.admin", "issues.services.grouping", "issues.migrations"} <= set(modules)
    offending = [
        f"{name}:{line} {imported}"
        for name, path in modules.items()
        for line, imported in _imported_names(name, path)
        if imported.split(".")[0] in ("llm", "reports")
    ]
    assert offending == []


def test_the_issues_app_reaches_no_report_by_relation_or_reflection() -> None:
    """No `issue.reports`, no `reports__...` lookup, no model found through a relation's
    `related_model`: what issues needs of reports, the reports app hands it."""
    offending = []
    for name, path in _issues_modules().items():
        if name.startswith("issues.migrations"):
            continue  # migration state names the relation by design
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("reports", "related_model"):
                offending.append(f"{name}:{node.lineno} .{node.attr}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("reports__")
            ):
                offending.append(f"{name}:{node.lineno} {node.value!r}")
            elif isinstance(node, ast.keyword) and (node.arg or "").startswith("reports__"):
                offending.append(f"{name}:{node.lineno} {node.arg}=")
    assert offending == []


def test_triage_list_puts_the_most_reported_first(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("triage", "t@example.org", "pw-triage-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "triage", "password": "pw-triage-123456"})
    now = timezone.now()
    old_many = IssueFactory(report_count=9, created_at=now - timedelta(days=30))
    new_one = IssueFactory(report_count=1, created_at=now)
    new_many = IssueFactory(report_count=9, created_at=now - timedelta(days=1))
    twin = IssueFactory(report_count=9, created_at=new_many.created_at)  # ties: newest id first
    middling = IssueFactory(report_count=3, created_at=now - timedelta(days=60))
    page = client_a.get("/admin/issues/issue/").content.decode()
    shown = [
        int(pk) for pk in re.findall(r'<th class="field-id"><a href="/admin/issues/issue/(\d+)/change/', page)
    ]
    assert shown == [twin.pk, new_many.pk, old_many.pk, middling.pk, new_one.pk]
    # The order is the triage index's, so PostgreSQL reads the first page straight off it.
    changelist = client_a.get("/admin/issues/issue/").context["cl"]
    order_by = str(changelist.result_list.query).split(" ORDER BY ")[1].split(" LIMIT ")[0]
    assert (
        order_by
        == '"issues_issue"."report_count" DESC, "issues_issue"."created_at" DESC, "issues_issue"."id" DESC'
    )
    index = next(i for i in Issue._meta.indexes if i.name == "issue_triage_order")
    assert list(index.fields) == ["-report_count", "-created_at", "-id"]


def test_staff_edit_the_grouping_policy_and_a_category_override(client_a, tenant_a) -> None:
    client_a.force_login(
        get_user_model().objects.create_superuser("policy", "p@example.org", "pw-policy-123456")
    )
    response = client_a.get("/admin/issues/groupingpolicy/")
    assert response.status_code == 302 and response["Location"].endswith(
        "/admin/issues/groupingpolicy/1/change/"
    )
    form = {
        "radius_m": 80,
        "window_hours": 72,
        "min_similarity": 0.15,
        "borderline_low": 0.4,
        "join_score": 0.5,
        "borderline_high": 0.65,
    }
    assert client_a.post("/admin/issues/groupingpolicy/1/change/", form).status_code == 302
    assert (grouping_thresholds(None).radius_m, grouping_thresholds(None).join_score) == (80, 0.5)
    refused = client_a.post("/admin/issues/groupingpolicy/1/change/", {**form, "borderline_low": 0.6})
    assert refused.status_code == 200 and "must not exceed the join score" in refused.content.decode()
    assert GroupingPolicy.objects.get().borderline_low == 0.4
    potholes = Category.objects.get(code="potholes")
    page = client_a.get(f"/admin/issues/category/{potholes.pk}/change/").content.decode()
    assert "Grouping reports into issues" in page and 'name="group_join_score"' in page


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (39.8, -89.64),
        (0.0, 0.0),
        (-33.9, 151.2),
        (64.1, -21.9),
        (89.9995, 10.0),
        (-89.9999, -45.0),
        (-17.8, 179.9995),
        (65.0, -179.9999),
    ],
)
def test_the_search_box_holds_every_point_within_the_radius(lat: float, lon: float) -> None:
    """Points spread on the circle at the radius and just inside it, all bearings, fall in
    the box, also by the poles and the 180th meridian; a point well outside does not."""
    from civicpulse.core.geo import EARTH_RADIUS_M, search_box

    for radius in (25.0, 50.0, 500.0, 5000.0):
        west, south, east, north = search_box(lat, lon, radius)
        for fraction in (0.5, 0.999, 1.0):
            angle = radius * fraction / EARTH_RADIUS_M
            for bearing_deg in range(0, 360, 5):
                # The destination point on the sphere (the great-circle "direct" formula).
                p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
                p2 = math.asin(math.sin(p1) * math.cos(angle) + math.cos(p1) * math.sin(angle) * math.cos(b))
                l2 = l1 + math.atan2(
                    math.sin(b) * math.sin(angle) * math.cos(p1),
                    math.cos(angle) - math.sin(p1) * math.sin(p2),
                )
                plat, plon = math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180
                assert south <= plat <= north and west <= plon <= east, (radius, bearing_deg, plat, plon)
        if abs(lat) < 80:  # narrow where no pole or meridian widens it
            angle = math.degrees(radius / EARTH_RADIUS_M)
            assert north - south < 2.01 * angle
            assert east - west < 2.01 * angle / math.cos(math.radians(lat)) or abs(lon) > 179.9


def test_the_sphere_is_earthdistances_and_candidates_come_off_the_point_index(tenant_a) -> None:
    from django.db import connection

    from civicpulse.core.geo import EARTH_RADIUS_M
    from issues.candidate_selectors import candidate_query, issue_candidates

    with connection.cursor() as cursor:
        cursor.execute("SELECT public.earth()")
        assert cursor.fetchone()[0] == EARTH_RADIUS_M
    near = IssueFactory(text=ISSUE_TEXT, latitude=LAT + 0.0003, longitude=LON)  # about 33 m north
    IssueFactory(text=ISSUE_TEXT, latitude=LAT + 0.0006, longitude=LON)  # about 67 m: outside 50 m
    found = issue_candidates(
        latitude=LAT,
        longitude=LON,
        address_key="",
        at=timezone.now(),
        text=REPORT_TEXT,
        category_ids=None,
        radius_m=50,
        window_hours=168,
    )
    assert [c.issue_id for c in found] == [near.pk] and 30 < found[0].distance_m < 36
    statement, params = candidate_query(
        latitude=LAT,
        longitude=LON,
        address_key="",
        at=timezone.now(),
        text=REPORT_TEXT,
        category_ids=None,
        radius_m=50,
        window_hours=168,
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "issue_open_point" in plan, plan
