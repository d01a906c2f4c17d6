from .models import Role
from .selectors import jurisdiction_of, role_of


def staff(request):
    """The user's role and jurisdiction for the top bar of every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    return {"staff_role": Role(role).label if role else "", "staff_role_code": role or "", "staff_jurisdiction": jurisdiction_of(user)}
