"""One family of domain errors, mapped to one API error shape.

Services raise these; views never catch them. The API answers
``{"error": {"code": ..., "message": ..., "details": ...}}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    code = "domain_error"
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, message: str, *, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(DomainError):
    code = "invalid_input"
    http_status = status.HTTP_400_BAD_REQUEST


class NotFound(DomainError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = status.HTTP_409_CONFLICT


def _error(code: str, message: str, http_status: int, details: Any = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response({"error": body}, status=http_status)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"error": exc.as_dict()}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return _error("invalid_input", "The request is invalid.", status.HTTP_400_BAD_REQUEST, details)
    if isinstance(exc, (Http404, DjangoPermissionDenied)):
        exc = drf_exceptions.NotFound() if isinstance(exc, Http404) else drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        shaped = _error("invalid_input", "The request is invalid.", response.status_code, response.data)
    else:
        code = getattr(exc, "default_code", "error")
        message = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
        shaped = _error(str(code), str(message), response.status_code)
    # Keep DRF's headers: WWW-Authenticate on 401, Retry-After on throttling, Allow on 405.
    for header, value in response.items():
        shaped[header] = value
    return shaped
