"""The pages' forms: the check form (检查表) an inspector fills on a phone (one radio group and note per check
point), the dashboard's periods and the policy simulator's draft."""

import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import MULTIPLIER_FIELDS, RATIO_FIELDS, SupervisionPolicy
from regions.models import ColourThresholds
from regions.periods import Period, period_parse

from .checks import MAX_PHOTOS, item_field, note_field, photo_prepare
from .models import Conclusion, ItemOutcome
from .simulator import DRAFT_POLICY_FIELDS, THRESHOLD_FIELDS, draft_of


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


class PeriodsForm(forms.Form):
    a = forms.CharField(label=_("Period A"), max_length=20, required=False)
    b = forms.CharField(label=_("Period B"), max_length=20, required=False)

    def _period(self, name: str) -> Period | None:
        text = self.cleaned_data.get(name, "").strip()
        if not text:
            return None
        try:
            return period_parse(text)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean_a(self):
        return self._period("a")

    def clean_b(self):
        return self._period("b")


# --- The policy simulator's draft -------------------------------------------------------------------------


def _model_field(model, name: str):
    formfield = model._meta.get_field(name).formfield()
    if isinstance(formfield, forms.DecimalField):
        formfield.widget.attrs["step"] = "any"
    return formfield


class SimulatorForm(forms.Form):
    """A draft of the colour thresholds and the supervision policy, pre-filled from the rules in force."""

    reason = forms.CharField(label=_("Reason for adopting"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in THRESHOLD_FIELDS:
            self.fields[name] = _model_field(ColourThresholds, name)
        for name in DRAFT_POLICY_FIELDS:
            self.fields[name] = _model_field(SupervisionPolicy, name)
        self.order_fields([*THRESHOLD_FIELDS, *DRAFT_POLICY_FIELDS, "reason"])

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in THRESHOLD_FIELDS}
        if None in values.values():
            return cleaned
        try:
            ColourThresholds(**values).clean()
        except ValidationError as error:
            self.add_error(self._out_of_order(values), error)
        return cleaned

    @staticmethod
    def _out_of_order(values) -> str:
        """The field to show the thresholds' rule beside: the first that breaks 0 < yellow < orange < red ≤ 100."""
        if values["yellow_from"] <= 0:
            return "yellow_from"
        if values["orange_from"] <= values["yellow_from"]:
            return "orange_from"
        return "red_from"

    def drafts(self, thresholds: ColourThresholds, policy: SupervisionPolicy) -> tuple[ColourThresholds, SupervisionPolicy]:
        data = self.cleaned_data
        return (
            draft_of(thresholds, {name: data[name] for name in THRESHOLD_FIELDS}),
            draft_of(policy, {name: data[name] for name in DRAFT_POLICY_FIELDS}),
        )

    def groups(self) -> list[tuple[str, list]]:
        return [
            (_("Colour thresholds"), [self[name] for name in THRESHOLD_FIELDS]),
            (_("Yearly draw ratios"), [self[name] for name in RATIO_FIELDS]),
            (_("Colour multipliers"), [self[name] for name in MULTIPLIER_FIELDS]),
        ]
