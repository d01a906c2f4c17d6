from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.models import MULTIPLIER_FIELDS, RATIO_FIELDS, SupervisionPolicy
from regions.models import ColourThresholds
from regions.periods import Period, period_parse

from .simulator import DRAFT_POLICY_FIELDS, THRESHOLD_FIELDS, draft_of


class PeriodsForm(forms.Form):
    a = forms.CharField(label=gettext_lazy("Period A"), max_length=20, required=False)
    b = forms.CharField(label=gettext_lazy("Period B"), max_length=20, required=False)

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
