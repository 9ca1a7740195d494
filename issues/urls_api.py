from django.urls import path

from issues import api

urlpatterns = [
    path("issues/", api.IssueList.as_view(), name="api-issues"),
    path("issues/<int:issue_id>/", api.IssueDetail.as_view(), name="api-issue-detail"),
    path("issues/<int:issue_id>/status/", api.IssueStatusChange.as_view(), name="api-issue-status"),
    path("issues/<int:issue_id>/assignee/", api.IssueAssign.as_view(), name="api-issue-assignee"),
    path("issues/<int:issue_id>/notes/", api.IssueNotes.as_view(), name="api-issue-notes"),
    path("categories/", api.CategoryList.as_view(), name="api-categories"),
    path("areas/", api.AreaList.as_view(), name="api-areas"),
    path("departments/", api.DepartmentList.as_view(), name="api-departments"),
]
