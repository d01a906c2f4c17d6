"""The filters of the supervisors' order list (GET): state, county or town of their jurisdiction, overdue only."""

from django import forms
from django.utils.translation import gettext_lazy as _

from regions.models import Level, Region
from regions.selectors import within

from ..models import OrderStatus
from .selectors import orders_open, orders_overdue

OPEN, ALL = "open", "all"


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[(OPEN, _("open (not closed)")), *OrderStatus.choices, (ALL, _("all"))],
    )
    county = forms.ModelChoiceField(
        label=_("County"), required=False, queryset=Region.objects.none(), to_field_name="code", empty_label=_("all")
    )
    town = forms.ModelChoiceField(
        label=_("Town or street"), required=False, queryset=Region.objects.none(), to_field_name="code", empty_label=_("all")
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, data=None, *, jurisdiction=None):
        super().__init__(data)
        regions = Region.objects.filter(within(jurisdiction)).order_by("code")
        # Only divisions of the user's jurisdiction can be chosen: another county's code is a "not a valid choice".
        self.fields["county"].queryset = regions.filter(level=Level.COUNTY)
        self.fields["town"].queryset = regions.filter(level=Level.TOWN).select_related("parent")
        self.fields["town"].label_from_instance = lambda town: f"{town.parent.name} {town.name}" if town.parent_id else town.name

    def clean(self):
        cleaned = super().clean()
        county, town = cleaned.get("county"), cleaned.get("town")
        if county and town and town.parent_id != county.pk:
            self.add_error("town", _("%(town)s is not in %(county)s.") % {"town": town.name, "county": county.name})
        return cleaned

    def filter(self, orders):
        """``orders`` narrowed by the valid filters (call after is_valid()); open orders when no state is chosen."""
        data = self.cleaned_data
        status = data.get("status") or OPEN
        if status == OPEN:
            orders = orders_open(orders)
        elif status != ALL:
            orders = orders.filter(status=status)
        if data.get("county"):
            orders = orders.filter(enterprise__town__parent=data["county"])
        if data.get("town"):
            orders = orders.filter(enterprise__town=data["town"])
        if data.get("overdue"):
            orders = orders_overdue(orders)
        return orders
