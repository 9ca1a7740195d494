"""Open311 GeoReport v2, mounted at /open311/v2/ on tenant hosts and the public host."""

from django.urls import re_path

from reports.open311 import discovery, errors, service_requests

FORMAT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    re_path(rf"^discovery{FORMAT}", discovery.discovery, name="open311-discovery"),
    re_path(rf"^services{FORMAT}", discovery.services, name="open311-services"),
    re_path(
        rf"^services/(?P<service_code>[^/]+){FORMAT}", discovery.service_definition, name="open311-service"
    ),
    re_path(rf"^requests{FORMAT}", service_requests.requests, name="open311-requests"),
    re_path(
        rf"^requests/(?P<service_request_id>[^/]+){FORMAT}",
        service_requests.request_detail,
        name="open311-request",
    ),
    re_path(rf"^tokens/(?P<token>[^/]+){FORMAT}", service_requests.token, name="open311-token"),
    re_path(r"", errors.unknown),
]
