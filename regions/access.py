"""Who may open which page (a role check in one place, used as a decorator by every page view), and who may
give staff their roles and jurisdictions."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .models import Region, Role
from .selectors import jurisdiction_of, lies_within, role_and_jurisdiction_of, role_of

ALL_STAFF = (Role.SUPERVISOR, Role.INSPECTOR, Role.ADMINISTRATOR)
MAP_ROLES = ALL_STAFF  # who may read the map data (api-region-map)


def map_scope(user) -> tuple[str, Region | None] | None:
    """Whether ``user`` may read the map data, and of where: (role, jurisdiction; None for everywhere), or None.

    Rule: bureau staff with a role see the map of their jurisdiction (superusers without a profile: everywhere).
    The map view scopes its data with this and the map ticket (``regions.map_cache``) carries what it returned
    when issued, so the fast path answers a ticket only with what the view made for the same scope.
    """
    role, jurisdiction = role_and_jurisdiction_of(user)
    return (role, jurisdiction) if role in MAP_ROLES else None


def role_required(*roles: str):
    """Let in logged-in staff whose role is one of ``roles``; sets request.role and request.jurisdiction."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            role = role_of(request.user)
            if role not in roles:
                raise PermissionDenied
            request.role = role
            request.jurisdiction = jurisdiction_of(request.user)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def manages_staff(user) -> bool:
    """May create, change and delete staff profiles at all: superusers and administrators (see staff_grant_problem)."""
    return user.is_superuser or role_of(user) == Role.ADMINISTRATOR


def staff_grant_problem(granter, *, user, jurisdiction: Region) -> str | None:
    """Why ``granter`` may not give ``user`` a role in ``jurisdiction`` (None: they may), in the staff admin.

    Rule: superusers give anything. An administrator gives any role in their own jurisdiction or a division
    inside it, and nowhere else: a county's administrators manage the staff of their county and its towns, the
    city's administrators everyone's. So the role needs no check of its own: an administrator they appoint sits
    at their own level or below. Other staff manage no one, and nobody but a superuser touches a superuser's
    profile (it would narrow what a superuser's pages show). A profile is changed or deleted only by someone
    who could have given it.
    """
    if granter.is_superuser:
        return None
    granter_role, own = role_and_jurisdiction_of(granter)
    if granter_role != Role.ADMINISTRATOR or own is None:
        return _("Only administrators manage staff.")
    if user is not None and user.is_superuser:
        return _("Only a superuser can change a superuser's profile.")
    if not lies_within(jurisdiction, own):
        return _("You can give a jurisdiction within yours only (%(yours)s and the divisions inside it).") % {"yours": own.name}
    return None
