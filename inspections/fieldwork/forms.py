"""The pages' forms: the check form (检查表) an inspector fills on a phone (one radio group and note per check
point), the dashboard's periods and the policy simulator's draft."""

import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Conclusion, ItemOutcome
from .services import MAX_PHOTOS, item_field, note_field, photo_prepare


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos under one name; each is checked by content and re-encoded by photo_prepare."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultiplePhotoInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)
        self.rejected: list[str] = []

    def clean(self, data, initial=None):
        self.rejected = []  # a fresh list on this form's copy of the field, never the class-level one
        uploads = [upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload]
        if len(uploads) > MAX_PHOTOS:
            raise ValidationError(_("At most %(max)d photos.") % {"max": MAX_PHOTOS})
        prepared, problems = [], []
        for upload in uploads:
            try:
                prepared.append(photo_prepare(upload))
            except ValidationError as error:
                self.rejected.append(upload.name)
                problems.extend(error.error_list)
        if problems:
            raise ValidationError(problems)
        return prepared


class CheckForm(forms.Form):
    """Built from the task's checklist; its field names are the keys check_result_submit reports errors under."""

    submission_key = forms.UUIDField(
        widget=forms.HiddenInput, error_messages={"required": _("The form lost its submission key: submit again.")}
    )
    checked_on = forms.DateField(label=_("Date of the check"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    co_inspector = forms.ModelChoiceField(label=_("Co-inspector"), queryset=get_user_model().objects.none(), empty_label=None)
    conclusion = forms.ChoiceField(
        label=_("Conclusion"),
        choices=Conclusion.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the conclusion.")},
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultiplePhotoField(label=_("Photos"), required=False)
    # Filled by the browser's geolocation (check.js); the manual fields below win when filled.
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    accuracy = forms.FloatField(required=False, min_value=0, widget=forms.HiddenInput)
    manual_lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "placeholder": "30.75"}),
    )
    manual_lon = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "placeholder": "120.75"}),
    )

    def __init__(self, *args, items, officers, user, **kwargs):
        super().__init__(*args, **kwargs)
        others = [officer for officer in officers if officer.pk != user.pk]
        co_inspector = self.fields["co_inspector"]
        co_inspector.queryset = get_user_model().objects.filter(pk__in=[officer.pk for officer in others])
        co_inspector.label_from_instance = lambda officer: officer.get_full_name() or officer.username
        if others:
            self.initial.setdefault("co_inspector", others[0].pk)
        self.initial.setdefault("checked_on", timezone.localdate())
        self.initial.setdefault("submission_key", uuid.uuid4())
        self.items = items
        for item in items:
            self.fields[item_field(item.pk)] = forms.ChoiceField(
                label=item.text,
                choices=ItemOutcome.choices,
                widget=forms.RadioSelect,
                error_messages={"required": _("Answer this check point.")},
            )
            self.fields[note_field(item.pk)] = forms.CharField(
                label=_("Note"), required=False, max_length=500, widget=forms.TextInput(attrs={"autocomplete": "off"})
            )

    @property
    def item_rows(self):
        """(check point, its answer field, its note field), in checklist order, for the template."""
        return [(item, self[item_field(item.pk)], self[note_field(item.pk)]) for item in self.items]

    @property
    def rejected_photos(self) -> list[str]:
        return self.fields["photos"].rejected

    def clean(self):
        data = super().clean()
        manual = data.get("manual_lat"), data.get("manual_lon")
        if any(value is not None for value in manual):
            if None in manual:
                self.add_error("manual_lon" if manual[1] is None else "manual_lat", _("Give both latitude and longitude."))
            data["position"] = (*manual, None, "manual")
        elif data.get("lat") is not None and data.get("lon") is not None:
            data["position"] = (data["lat"], data["lon"], data.get("accuracy"), "gps")
        else:
            data["position"] = (None, None, None, "")
        return data

    def submission(self) -> dict:
        """The cleaned form as check_result_submit's keyword arguments (all but the task and the submitter)."""
        data = self.cleaned_data
        lat, lon, accuracy, source = data["position"]
        return {
            "submission_key": data["submission_key"],
            "conclusion": data["conclusion"],
            "items": [(item.pk, data[item_field(item.pk)], data.get(note_field(item.pk), "")) for item in self.items],
            "co_inspector": data["co_inspector"],
            "checked_on": data["checked_on"],
            "lat": lat,
            "lon": lon,
            "accuracy": accuracy,
            "position_source": source,
            "note": data.get("note", ""),
            "photos": data.get("photos") or [],
        }


# --- The dashboard's periods ---------------------------------------------------------------------------------


# --- The policy simulator's draft -------------------------------------------------------------------------
