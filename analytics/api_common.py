"""What the analytics API's endpoints share: one pagination, the OpenAPI schema of one of
its pages, and the period filters of metrics and trends."""

from datetime import date

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class MetricPages(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The schema of one page of `item`s, as MetricPages answers."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item.__class__(many=True),
        },
    )


class MetricFilters(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    category = serializers.CharField(required=False, max_length=50)

    def validate(self, attrs: dict) -> dict:
        since: date | None = attrs.get("since")
        until: date | None = attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"since": ["Comes after until."]})
        return attrs
