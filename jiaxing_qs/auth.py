"""The authentication backend: Django's ModelBackend, loading each request's user with their staff profile."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from regions.selectors import PROFILE_LOADED, without_boundaries


class StaffModelBackend(ModelBackend):
    """Every page and API call asks for the user's role and jurisdiction: fetching the staff profile and its
    jurisdiction in the user's own query saves one or two queries on every request."""

    def get_user(self, user_id):
        # The jurisdiction's code, level and name are asked for on every request; its boundary never is.
        users = without_boundaries(
            get_user_model()._default_manager.select_related("staff_profile__jurisdiction"), "staff_profile__jurisdiction"
        )
        try:
            user = users.get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        setattr(user, PROFILE_LOADED, True)
        return user if self.user_can_authenticate(user) else None
