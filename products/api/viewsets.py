"""Read API over the product catalogue (产品目录).

The catalogue is the city's, shared by every jurisdiction: any member of staff sees all of it (the
jurisdiction rule limits enterprises and what happens to them, not the list of product types). Only
staff with a role get in, as everywhere in the API (the default permission, StaffWithRole).
"""

from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from rest_framework.viewsets import ReadOnlyModelViewSet

from common.api_query import ApiFilterSet, BooleanFilter, ChoiceFilter, TextFilter

from ..models import ChecklistItem, Grade, LicenceType, Product
from .params import ProductClassCodeFilter
from .serializers import ProductDetailSerializer, ProductSerializer


class ProductFilter(ApiFilterSet):
    product_class = ProductClassCodeFilter(field_name="product_class__code", label=_("product class code"))
    grade = ChoiceFilter(choices=Grade.choices)
    licence_type = ChoiceFilter(choices=LicenceType.choices)
    is_active = BooleanFilter()
    overridden = BooleanFilter(field_name="override_grade", lookup_expr="isnull", exclude=True, label=_("grade overridden"))
    q = TextFilter(method="search", label=_("name or code contains"))

    class Meta:
        model = Product
        fields = ["product_class", "grade", "licence_type", "is_active", "overridden", "q"]

    def search(self, queryset, name, value: str):
        return queryset.filter(Q(name__icontains=value) | Q(name_en__icontains=value) | Q(code__icontains=value))


class ProductViewSet(ReadOnlyModelViewSet):
    """Products of the catalogue with grade factors and the grade in force; the detail adds the checklist."""

    filterset_class = ProductFilter
    ordering_fields = ["code", "name", "grade", "failure_rate"]
    ordering = ["code"]

    def get_serializer_class(self):
        return ProductDetailSerializer if self.action == "retrieve" else ProductSerializer

    def get_queryset(self):
        products = Product.objects.select_related("product_class")
        if self.action == "retrieve":
            products = products.prefetch_related(Prefetch("checklist_items", queryset=ChecklistItem.objects.order_by("order")))
        return products
