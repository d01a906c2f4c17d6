"""A rule's refusal is shown where the user looks (common.views.refusal_show)."""

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from common.views import refusal_show


class PlanLikeForm(forms.Form):
    name = forms.CharField()


def request_with_messages():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_a_refusal_naming_a_field_of_the_form_is_shown_on_it_and_the_rest_above_the_form():
    form = PlanLikeForm({"name": "计划"})
    assert form.is_valid()
    refusal_show(request_with_messages(), ValidationError({"name": "taken", "scope": "not a county"}), form)
    assert form.errors == {"name": ["taken"], "__all__": ["not a county"]}


def test_a_refusal_without_fields_is_shown_above_the_form():
    form = PlanLikeForm({"name": "计划"})
    form.is_valid()
    refusal_show(request_with_messages(), ValidationError("nothing to adopt"), form)
    assert form.non_field_errors() == ["nothing to adopt"]


def test_without_a_form_the_refusal_is_a_message_on_the_next_page():
    request = request_with_messages()
    refusal_show(request, ValidationError(["only a draft", "can be approved"]))
    assert [str(message) for message in get_messages(request)] == ["only a draft can be approved"]
