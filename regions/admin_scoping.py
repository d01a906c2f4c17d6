"""The admin limited to the user's jurisdiction: the rule of the pages and the API, applied to changelists, change
pages, history, filters, autocompletes, choices and exports (which use the changelist's queryset).

Each scoped admin names the path from its model to the division its records belong to (``jurisdiction_path``:
"town", "enterprise__town", "scope", "jurisdiction"…; "" when the model is Region itself). Superusers and
staff of the top division (``selectors.is_topmost``: the city, or the province when one is loaded) see every
record; city and county staff below it see the records whose division lies inside their jurisdiction (by
division-code prefix, as ``selectors.within``); staff without a profile see nothing, so a missing profile
shows as an empty list rather than as "everything".

City-wide records (the catalogue, the rule versions, the divisions) are read by every staff member with the
view permission and changed only by administrators of the top division: one county (or city) must not change
another's rules.
"""

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet

from .models import Region, Role, code_prefix
from .selectors import is_topmost, jurisdiction_of, lies_within, role_of, without_boundaries


@dataclass(frozen=True)
class AdminScope:
    """Where a user's admin reaches: everywhere, inside ``region``, or nowhere (neither); and whether the user
    may change city-wide records."""

    everywhere: bool
    region: Region | None
    city_administrator: bool = False

    def lookup(self, path: str) -> Q:
        """Records whose division at ``path`` lies inside the scope (all of them when everywhere)."""
        if self.everywhere:
            return Q()
        if self.region is None:
            return Q(pk__in=[])
        return Q(**{f"{path}__code__startswith" if path else "code__startswith": code_prefix(self.region.code)})

    def contains(self, division: Region | None) -> bool:
        if self.everywhere:
            return True
        return self.region is not None and lies_within(division, self.region)


def admin_scope(request) -> AdminScope:
    """The user's reach in the admin, looked up once per request."""
    scope = getattr(request, "_admin_scope", None)
    if scope is None:
        user = request.user
        jurisdiction = jurisdiction_of(user)
        if user.is_superuser or (jurisdiction is not None and is_topmost(jurisdiction)):
            administrator = user.is_superuser or role_of(user) == Role.ADMINISTRATOR
            scope = AdminScope(everywhere=True, region=None, city_administrator=administrator)
        else:
            scope = AdminScope(everywhere=False, region=jurisdiction)
        request._admin_scope = scope
    return scope


def is_city_administrator(request) -> bool:
    """May change city-wide records: a superuser, or an administrator of the top division (the city or province)."""
    return admin_scope(request).city_administrator


def division_of(obj, path: str) -> Region | None:
    """The division ``obj`` belongs to, following ``path`` ("enterprise__town" → obj.enterprise.town)."""
    for step in path.split("__") if path else ():
        try:
            obj = getattr(obj, step)
        except ObjectDoesNotExist:  # e.g. a recipient without a staff profile
            return None
        if obj is None:
            return None
    return obj


def scoped(queryset: QuerySet, path: str, scope: AdminScope) -> QuerySet:
    return queryset.filter(scope.lookup(path))


class ScopedChoicesMixin:
    """Foreign-key choices limited like the lists: enterprises, divisions, plans… of the jurisdiction only.

    The related model's own admin says how it is scoped (its ``jurisdiction_path``); users are limited to
    staff of the jurisdiction (and users without a profile yet, so one can be given). Autocomplete widgets
    search through the related admin's queryset, which is scoped too; this limit is what the form accepts.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self._scoped_choices(db_field, request, kwargs.get("using"))
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _scoped_choices(self, db_field, request, using) -> QuerySet | None:
        related = db_field.remote_field.model
        scope = admin_scope(request)
        if related is get_user_model():
            if scope.everywhere:
                return None
            base = related._default_manager.using(using)
            inside = scope.lookup("staff_profile__jurisdiction")
            return base.filter(Q(staff_profile__isnull=True) | inside)
        related_admin = self.admin_site._registry.get(related)
        path = getattr(related_admin, "jurisdiction_path", None)
        if path is None:
            return None
        base = self.get_field_queryset(using, db_field, request)
        if base is None:
            base = related._default_manager.using(using)
        return scoped(base, path, scope)


class JurisdictionScopedAdmin(ScopedChoicesMixin):
    """A ModelAdmin mixin (first among the bases): lists, pages and permissions limited to the jurisdiction.

    A record elsewhere is missing from the changelist, its change page answers "not found", and the object
    permissions (which the history view checks) refuse it.
    """

    jurisdiction_path: str = ""

    def admin_scope(self, request) -> AdminScope:
        """The user's reach, for the ground floor's admin blocks (common.import_admin)."""
        return admin_scope(request)

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), self.jurisdiction_path, admin_scope(request))

    def in_jurisdiction(self, request, obj) -> bool:
        return obj is None or admin_scope(request).contains(division_of(obj, self.jurisdiction_path))

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_jurisdiction(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_jurisdiction(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_jurisdiction(request, obj)


class CityWideAdmin:
    """A ModelAdmin or inline mixin (first among the bases) for city-wide records: read with the view
    permission, added, changed and deleted only by city-level administrators."""

    def admin_scope(self, request) -> AdminScope:
        """The user's reach, for the ground floor's admin blocks (common.import_admin)."""
        return admin_scope(request)

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and is_city_administrator(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and is_city_administrator(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and is_city_administrator(request)


class DivisionListFilter(admin.RelatedFieldListFilter):
    """A changelist filter by a division of one ``level`` (``division_filter(Level.COUNTY)``): the divisions of
    that level inside the user's admin scope, read without their boundaries. RelatedOnlyFieldListFilter would
    first take the DISTINCT divisions over every row of the list (a million enterprises), then load each
    division whole."""

    level = ""  # "": every division that has divisions under it (a filter by parent)

    def field_choices(self, field, request, model_admin):
        divisions = Region.objects.filter(level=self.level) if self.level else Region.objects.filter(children__isnull=False).distinct()
        divisions = scoped(without_boundaries(divisions, ""), "", admin_scope(request))
        return [(division.pk, str(division)) for division in divisions.order_by("code")]


def division_filter(level: str = "") -> type[DivisionListFilter]:
    return type(f"{(level or 'parent').title()}ListFilter", (DivisionListFilter,), {"level": level})
