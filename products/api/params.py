"""Query parameters about the catalogue that other apps' API take too: a product (or product class) code."""

from common.api_query import CodeFilter

from ..models import Product, ProductClass


def code_pattern(model) -> str:
    """Any code the model's ``code`` column can hold: 1 to max_length characters, none of them NUL."""
    return rf"[^\x00]{{1,{model._meta.get_field('code').max_length}}}"


class ProductCodeFilter(CodeFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, pattern=code_pattern(Product), **kwargs)


class ProductClassCodeFilter(CodeFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, pattern=code_pattern(ProductClass), **kwargs)
