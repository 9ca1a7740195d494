"""The integrator API on issues and the taxonomy: lists and reads with scope `read`;
status changes, assignment and notes with scope `staff`. Writes go through
issues.services.workflow, as the staff console's do."""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicpulse.apikeys.models import ApiKey
from issues.models import OPEN_STATUSES, Area, Category, Department, Issue, IssueNote, IssueStatus
from issues.selectors import issue_list_for_api, issue_notes_visible, staff_member_by_username
from issues.services.workflow import issue_assign, issue_note_add, issue_transition


def _has_staff_scope(request: Request) -> bool:
    return "staff" in getattr(request.auth, "scopes", ())


def _actor_label(request: Request) -> str:
    """The API key, as the trail names who acted (HasScope lets no request without one in)."""
    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        raise exceptions.NotAuthenticated
    return f"api:{api_key.name}"


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["code", "name", "active"]


class AreaSerializer(serializers.ModelSerializer):
    boundary = serializers.JSONField(allow_null=True, help_text="GeoJSON Polygon or MultiPolygon, or null.")

    class Meta:
        model = Area
        fields = ["code", "name", "boundary", "active"]


class QuestionValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    datatype = serializers.ChoiceField(
        choices=["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    )
    # Not Field.required: DRF's serializer metaclass takes declared fields off the class,
    # which the stubs cannot express.
    required = serializers.BooleanField(default=False)  # type: ignore[assignment]
    values = QuestionValueSerializer(many=True, required=False)


class CategorySerializer(serializers.ModelSerializer):
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Category
        fields = ["code", "name", "description", "default_severity", "active", "department", "questions"]


class IssueSerializer(serializers.ModelSerializer):
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    area: serializers.SlugRelatedField[Area] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    open311_status = serializers.SerializerMethodField(help_text="The status as Open311 names it.")
    assignee = serializers.SerializerMethodField(
        help_text="Username of the assignee; shown to staff keys only."
    )

    class Meta:
        model = Issue
        fields = [
            "id",
            "title",
            "summary",
            "status",
            "open311_status",
            "severity",
            "category",
            "area",
            "department",
            "latitude",
            "longitude",
            "report_count",
            "assignee",
            "created_at",
            "updated_at",
            "last_report_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=["open", "closed"]))
    def get_open311_status(self, issue: Issue) -> str:
        return "open" if issue.status in OPEN_STATUSES else "closed"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_assignee(self, issue: Issue) -> str | None:
        request = self.context.get("request")
        if request is None or not _has_staff_scope(request) or issue.assignee is None:
            return None
        return issue.assignee.get_username()


class IssueNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = IssueNote
        fields = ["id", "visibility", "body", "created_at"]


@extend_schema_field(
    {"type": "string", "pattern": r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$", "example": "-89.7,39.7,-89.6,39.9"}
)
class BboxFilter(filters.CharFilter):
    """min_longitude,min_latitude,max_longitude,max_latitude."""


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time moved to UTC: PostgreSQL refuses offsets beyond ±15:59 that
    Python accepts, and a time near year 1 or 9999 may not survive the move at all."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("This time is out of range.", code="invalid") from exc


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IssueFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=IssueStatus.choices)
    category = filters.CharFilter(field_name="category__code", help_text="A category code.")
    area = filters.CharFilter(field_name="area__code", help_text="An area code.")
    department = filters.CharFilter(field_name="department__code", help_text="A department code.")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    bbox = BboxFilter(
        method="filter_bbox",
        help_text="min_longitude,min_latitude,max_longitude,max_latitude (WGS84): issues located inside.",
    )

    class Meta:
        model = Issue
        fields = [
            "status",
            "category",
            "area",
            "department",
            "created_after",
            "created_before",
            "updated_after",
            "bbox",
        ]

    def filter_bbox(self, queryset: QuerySet[Issue], name: str, value: str) -> QuerySet[Issue]:
        try:
            west, south, east, north = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise serializers.ValidationError(
                {"bbox": ["Give four numbers: min_lon,min_lat,max_lon,max_lat."]}
            ) from exc
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
            raise serializers.ValidationError(
                {"bbox": ["Longitudes from -180 to 180, latitudes from -90 to 90, south <= north."]}
            )
        inside = Q(latitude__gte=south, latitude__lte=north)
        # A box whose west edge is east of its east edge crosses the antimeridian.
        across = (
            Q(longitude__gte=west, longitude__lte=east)
            if west <= east
            else Q(longitude__gte=west) | Q(longitude__lte=east)
        )
        return queryset.filter(inside & across)


class IssueList(generics.ListAPIView):
    """Issues of this tenant, newest first unless `ordering` says otherwise."""

    required_scopes = {"GET": "read"}
    serializer_class = IssueSerializer
    pagination_class = Pages
    filterset_class = IssueFilter
    ordering_fields = ["created_at", "updated_at", "report_count", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[Issue]:
        return issue_list_for_api()


class IssueDetail(generics.RetrieveAPIView):
    required_scopes = {"GET": "read"}
    serializer_class = IssueSerializer
    lookup_url_kwarg = "issue_id"

    def get_queryset(self) -> QuerySet[Issue]:
        return issue_list_for_api()


class _IssueAction(APIView):
    def issue_or_404(self, issue_id: int) -> None:
        if not Issue.objects.filter(pk=issue_id).exists():
            raise Http404

    def answer(self, request: Request, issue_id: int) -> Response:
        issue = issue_list_for_api().get(pk=issue_id)
        return Response(IssueSerializer(issue, context={"request": request}).data)


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=IssueStatus.choices)
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Why, kept on the issue's trail."
    )


class IssueStatusChange(_IssueAction):
    """Move an issue through its workflow (open → acknowledged → in_progress → resolved →
    closed, reopening allowed); an impossible move is a 400 naming `status`."""

    required_scopes = {"POST": "staff"}

    @extend_schema(request=StatusChangeSerializer, responses={200: IssueSerializer})
    def post(self, request: Request, issue_id: int) -> Response:
        self.issue_or_404(issue_id)
        data = _validated(StatusChangeSerializer, request)
        issue_transition(
            issue_id=issue_id,
            to_status=data["status"],
            actor_label=_actor_label(request),
            note=data.get("note", ""),
        )
        return self.answer(request, issue_id)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True, max_length=150, help_text="Username of an active staff member; null to unassign."
    )


class IssueAssign(_IssueAction):
    required_scopes = {"POST": "staff"}

    @extend_schema(request=AssignSerializer, responses={200: IssueSerializer})
    def post(self, request: Request, issue_id: int) -> Response:
        self.issue_or_404(issue_id)
        username = _validated(AssignSerializer, request)["assignee"]
        assignee = None
        if username is not None:
            assignee = staff_member_by_username(username)
            if assignee is None:
                raise serializers.ValidationError({"assignee": ["No active staff member has this username."]})
        issue_assign(issue_id=issue_id, assignee=assignee, actor_label=_actor_label(request))
        return self.answer(request, issue_id)


class NoteCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4000)
    visibility = serializers.ChoiceField(
        choices=IssueNote.Visibility.choices,
        help_text="public: residents and Open311 see it; internal: staff only.",
    )


class IssueNotes(_IssueAction):
    """GET: the issue's notes, public ones only unless the key has the staff scope.
    POST (staff): add a public or internal note."""

    required_scopes = {"GET": "read", "POST": "staff"}

    @extend_schema(responses={200: IssueNoteSerializer(many=True)})
    def get(self, request: Request, issue_id: int) -> Response:
        self.issue_or_404(issue_id)
        notes = issue_notes_visible(issue_id=issue_id, internal=_has_staff_scope(request))
        return Response(IssueNoteSerializer(notes, many=True).data)

    @extend_schema(request=NoteCreateSerializer, responses={201: IssueNoteSerializer})
    def post(self, request: Request, issue_id: int) -> Response:
        self.issue_or_404(issue_id)
        data = _validated(NoteCreateSerializer, request)
        note = issue_note_add(
            issue_id=issue_id,
            body=data["body"],
            visibility=data["visibility"],
            author=None,
            actor_label=_actor_label(request),
        )
        return Response(IssueNoteSerializer(note).data, status=201)


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CategoryList(generics.ListAPIView):
    """This tenant's categories (service codes in Open311), with their extra questions."""

    required_scopes = {"GET": "read"}
    serializer_class = CategorySerializer
    pagination_class = Pages
    filterset_fields = ["active"]
    ordering_fields = ["code", "name"]
    ordering = ["name"]
    queryset = Category.objects.select_related("department")


class AreaList(generics.ListAPIView):
    required_scopes = {"GET": "read"}
    serializer_class = AreaSerializer
    pagination_class = Pages
    filterset_fields: list[str] = []
    ordering_fields = ["code", "name"]
    ordering = ["name"]
    queryset = Area.objects.all()


class DepartmentList(generics.ListAPIView):
    required_scopes = {"GET": "read"}
    serializer_class = DepartmentSerializer
    pagination_class = Pages
    filterset_fields: list[str] = []
    ordering_fields = ["code", "name"]
    ordering = ["name"]
    queryset = Department.objects.all()
