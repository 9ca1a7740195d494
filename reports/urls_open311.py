"""Open311 GeoReport v2, mounted at /open311/v2/ on tenant hosts and the public host."""
from django.urls import re_path

from reports import open311

FORMAT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    re_path(rf"^discovery{FORMAT}", open311.discovery, name="open311-discovery"),
    re_path(rf"^services{FORMAT}", open311.services, name="open311-services"),
    re_path(rf"^services/(?P<service_code>[^/]+){FORMAT}", open311.service_definition, name="open311-service"),
    re_path(rf"^requests{FORMAT}", open311.requests, name="open311-requests"),
    re_path(rf"^requests/(?P<service_request_id>[^/]+){FORMAT}", open311.request_detail, name="open311-request"),
    re_path(rf"^tokens/(?P<token>[^/]+){FORMAT}", open311.token, name="open311-token"),
    re_path(r"", open311.unknown),
]
