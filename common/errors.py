"""Domain errors any floor may raise, for the pages, the API and the commands alike."""

from django.core.exceptions import ValidationError


class StateConflict(ValidationError):
    """A rule refused an action because of the state its record is in (adopting a model that is already adopted),
    not because of a value the caller gave. Pages show it like any refusal (it is a ValidationError); the API
    answers 409 Conflict rather than 400 (``common.api_errors``)."""
