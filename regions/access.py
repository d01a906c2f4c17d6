"""Who may open which page: a role check in one place, used as a decorator by every page view."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .models import Role
from .selectors import jurisdiction_of, role_of

ALL_STAFF = (Role.SUPERVISOR, Role.INSPECTOR, Role.ADMINISTRATOR)


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
