"""Template context every page shares."""

from django.utils.safestring import mark_safe

from common.palette import PALETTE
from enterprises.models import CODE_COLOURS

# --<colour>, --<colour>-mark, --<colour>-text, and --category-<category> (its code colour's mark), for
# static/css/app.css and static/js/map.js.
PALETTE_CSS = mark_safe(
    " ".join(
        [f"--{name}: {swatch.fill}; --{name}-mark: {swatch.mark}; --{name}-text: {swatch.text};" for name, swatch in PALETTE.items()]
        + [f"--category-{category}: var(--{colour}-mark);" for category, colour in CODE_COLOURS.items()]
    )
)


def palette(request):
    """The colours as CSS custom properties (base.html), from their one definition (regions.models.PALETTE)."""
    return {"palette_css": PALETTE_CSS}
