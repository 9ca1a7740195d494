"""The OpenAPI schema (drf-spectacular): the error answers every operation can give, in
the one error shape, so integrators and the fuzzing run know them. (The API-key scheme
is described beside its authentication, in civicpulse.apikeys.)"""

from typing import Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(
            help_text="Machine-readable: invalid, not_found, not_authenticated, "
            "authentication_failed, permission_denied, throttled, ..."
        ),
        "message": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="The fields at fault, each with its messages; empty when no field is.",
        ),
    },
)

_ERRORS = {
    "400": "The request is invalid; `fields` names what is wrong.",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The API key lacks the scope this operation needs, or the tenant is suspended.",
    "404": "No such resource in this tenant.",
    "405": "The method is not allowed here.",
    "406": "The requested representation cannot be produced.",
    "413": "The body is over the size limit.",
    "415": "The body's content type is not supported.",
    "429": "Too many requests; wait the seconds in Retry-After.",
}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        # Every operation passes through the same authentication, throttling, body limit
        # and exception handler, so each can answer any of these.
        for code, description in _ERRORS.items():
            responses.setdefault(
                code,
                self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, direction=direction
                ),
            )
        return responses
