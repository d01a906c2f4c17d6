"""The colours' one definition (UI.md), by the names regions.models.Colour and the code colours use."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Swatch:
    fill: str  # areas, badges
    mark: str  # small marks and print on white (map dots, QR codes), where a pale fill would not show
    text: str  # text on the fill


# The colours' one definition, for pages (CSS custom properties, jiaxing_qs.context_processors.palette), the
# admin's badges and the QR codes. The four risk colours are reserved for risk (UI.md); blue is the
# responsibility-supervision code colour.
PALETTE = {
    "red": Swatch("#d73027", "#d73027", "#fff"),
    "orange": Swatch("#fc8d59", "#fc8d59", "#222"),
    "yellow": Swatch("#fee08b", "#b8860b", "#222"),
    "green": Swatch("#1a9850", "#1a9850", "#fff"),
    "blue": Swatch("#4575b4", "#4575b4", "#fff"),
    "too_few": Swatch("#e0e0e0", "#bbbbbb", "#555"),
}
