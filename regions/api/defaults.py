"""What every API view gets by default (REST_FRAMEWORK settings point here): who may call it, and pages.

This module must not import rest_framework.views/generics/viewsets: DRF resolves its default classes while
defining APIView, so importing views from here would be circular.

Access rule: the caller must be bureau staff, i.e. have a role (a StaffProfile, or be a superuser, who counts
as a city-wide administrator). A logged-in user without one gets 403 rather than an empty list, so a
missing profile shows up as an error instead of looking like "no data". Records are then limited to the
caller's jurisdiction by each view's queryset, which starts from ``api_jurisdiction(request)``.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from common.api_query import BoundedPageNumberPagination
from regions.access import ALL_STAFF
from regions.models import Region
from regions.selectors import role_and_jurisdiction_of


@dataclass(frozen=True)
class StaffScope:
    role: str | None
    jurisdiction: Region | None  # None: everywhere (superusers, city-wide staff are the city region)


def staff_scope(request) -> StaffScope:
    """The caller's role and jurisdiction, looked up once per request."""
    scope = getattr(request, "_staff_scope", None)
    if scope is None:
        scope = StaffScope(*role_and_jurisdiction_of(request.user))
        request._staff_scope = scope
    return scope


def api_jurisdiction(request) -> Region | None:
    """Where every API query starts. Fails closed: a caller without a role never reaches "everywhere"."""
    scope = staff_scope(request)
    if scope.role is None:
        raise PermissionDenied
    return scope.jurisdiction


class StaffWithRole(BasePermission):
    """Bureau staff whose role is in the view's ``allowed_roles`` (all staff roles unless the view narrows it)."""

    message = _("Only bureau staff with a role and a jurisdiction may use this endpoint.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return staff_scope(request).role in getattr(view, "allowed_roles", ALL_STAFF)


class ApiPagination(BoundedPageNumberPagination):
    """``?page=N&page_size=M``; 50 a page unless asked, never more than 500 (a list of 7,000 enterprises
    should be walked page by page, not pulled in one response): a larger size is a 400."""

    page_size = 50
    max_page_size = 500
