"""Every admin action declares the permission it needs, so a staff member who may only
view cannot suspend tenants, merge, close, resolve, move, split, revoke keys or retry
reports; and the console's own buttons that write (location reports, undo, SLA pauses)
refuse such a member too."""

from collections.abc import Callable

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client, RequestFactory
from django_tenants.utils import schema_context

from analytics.location_reports.models import LocationReport
from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_create
from issues.models import Issue, IssueEvent
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tenants.models import Tenant
from tests.support.factories import IssueFactory

PROJECT_PACKAGES = {"civicpulse", "tenants", "issues", "reports", "llm", "analytics"}


def _user(username: str, *, codename_prefix: str) -> User:
    """A staff member (not a superuser) holding every `<prefix>_*` permission."""
    user = get_user_model().objects.create_user(username, f"{username}@example.org", "pw-perm-123456")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__startswith=f"{codename_prefix}_"))
    return get_user_model().objects.get(pk=user.pk)  # fresh: permissions are cached per object


def _all_actions(schema_is_public: bool) -> list[tuple[type, str, Callable]]:
    """Every action (but Django's own delete) of every admin shown on this kind of schema,
    as a superuser sees them."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    found = []
    for model, model_admin in admin.site._registry.items():
        if getattr(model_admin, "public_schema", None) is not schema_is_public:
            continue
        for name, (func, _, _) in model_admin.get_actions(request).items():
            if name != "delete_selected":
                found.append((model, name, func))
    return found


def test_every_action_declares_its_permission(tenant_a) -> None:
    actions = _all_actions(schema_is_public=False)
    with schema_context("public"):
        actions += _all_actions(schema_is_public=True)
    names = {name for _, name, _ in actions}
    # The actions the issue names are all there, and each says what it needs.
    assert {
        "suspend",
        "reinstate",
        "merge",
        "close",
        "resolve",
        "move_to_issue",
        "split_out",
        "revoke",
    } <= names
    # Third-party admins' actions (celery beat's) need not declare: the kernel's admin
    # base offers an undeclared action only to a member who may change (tested below).
    own = [a for a in actions if a[2].__module__.split(".")[0] in PROJECT_PACKAGES]
    undeclared = [
        f"{model.__name__}.{name}"
        for model, name, func in own
        if not getattr(func, "allowed_permissions", None)
    ]
    assert undeclared == []


def _selected(model: type) -> str:
    """One row of `model` to select (tenant schema), made if need be."""
    if model is Issue:
        return str(IssueFactory().pk)
    if model is Report:
        report = report_submit(description="Pothole on Elm St", latitude=39.8, longitude=-89.64).report
        report_process(report_id=report.pk)
        return str(report.pk)
    if model is ApiKey:
        return str(api_key_create(name="perm-test", scopes=["read"])[0].pk)
    row = model.objects.first()
    assert row is not None, f"no {model.__name__} to select"
    return str(row.pk)


def _check_actions(
    client: Client, viewer: User, actions: list, selected: Callable[[type], str], monkeypatch
) -> None:
    calls: list[str] = []
    for model, name, func in actions:
        # A recorder in the action's place: whether Django would run it is all we ask.
        recorder = lambda self, request, queryset, name=name: calls.append(name)  # noqa: E731
        if hasattr(func, "allowed_permissions"):
            recorder.allowed_permissions = func.allowed_permissions  # type: ignore[attr-defined]
        recorder.short_description = name  # type: ignore[attr-defined]
        monkeypatch.setattr(type(admin.site._registry[model]), name, recorder, raising=True)
    client.force_login(viewer)
    for model, name, _ in actions:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        page = client.get(url)
        assert page.status_code == 200, url
        choices = (
            [value for value, _ in page.context["action_form"].fields["action"].choices]
            if page.context.get("action_form")
            else []
        )
        assert name not in choices, f"{name} offered to a view-only user on {url}"
        client.post(url, {"action": name, "_selected_action": [selected(model)], "index": 0})
    assert calls == [], f"run for a view-only user: {calls}"


def test_view_only_staff_neither_see_nor_run_tenant_actions(client_a, tenant_a, monkeypatch) -> None:
    actions = _all_actions(schema_is_public=False)
    viewer = _user("viewer", codename_prefix="view")
    _check_actions(client_a, viewer, actions, _selected, monkeypatch)


def test_a_member_who_may_change_can_still_act(client_a, tenant_a) -> None:
    editor = _user("editor", codename_prefix="change")
    editor.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client_a.force_login(editor)
    issue = IssueFactory()
    client_a.post("/admin/issues/issue/", {"action": "close", "_selected_action": [issue.pk], "index": 0})
    assert Issue.objects.get(pk=issue.pk).status == "closed"


def test_view_only_platform_staff_cannot_suspend_tenants(public_client, tenant_pair, monkeypatch) -> None:
    with schema_context("public"):
        actions = _all_actions(schema_is_public=True)
        viewer = _user("platform-viewer", codename_prefix="view")
    _check_actions(public_client, viewer, actions, lambda model: str(tenant_pair[0].pk), monkeypatch)
    assert not Tenant.objects.get(pk=tenant_pair[0].pk).suspended
    connection.set_schema_to_public()


def test_view_only_staff_cannot_use_the_consoles_writing_buttons(client_a, tenant_a) -> None:
    from reports.services.regrouping import issue_merge

    first, second = (
        report_submit(description=f"Pothole number {n}", latitude=39.8 + n / 100, longitude=-89.64).report
        for n in (1, 2)
    )
    issues = [report_process(report_id=r.pk).issue_id for r in (first, second)]
    target = issue_merge(issue_ids=issues, actor=None)
    merged = IssueEvent.objects.filter(issue_id=target.pk, kind="merged").first()
    viewer = _user("viewer", codename_prefix="view")
    client_a.force_login(viewer)
    assert client_a.post(f"/admin/issues/issue/{target.pk}/location-report/").status_code == 403
    assert not LocationReport.objects.exists()
    assert merged is not None
    assert client_a.post(f"/admin/issues/issue/{target.pk}/undo/{merged.pk}/").status_code == 403
    assert (
        client_a.post(f"/admin/issues/issue/{target.pk}/sla/pause/", {"pause_reason": 1}).status_code == 403
    )
    assert client_a.post(f"/admin/issues/issue/{target.pk}/sla/resume/").status_code == 403
    assert Issue.objects.get(pk=target.pk).report_count == 2  # nothing was undone
