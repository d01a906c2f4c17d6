"""What every HTML view shares."""

from django.contrib import messages
from django.core.exceptions import ValidationError


def refusal_show(request, error: ValidationError, form=None) -> None:
    """A rule's refusal shown where the user looks: on the form's fields it names, the rest above the form; as a
    message on the next page when there is no form (a button's POST that redirects)."""
    if form is None:
        messages.error(request, " ".join(error.messages))
    elif hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
