"""Schemathesis hooks for .ci/run's API fuzzing (loaded through SCHEMATHESIS_HOOKS).

The photo upload's schema names its part's formats (encoding contentType: image/jpeg, image/png, image/webp);
schemathesis cannot invent a decodable image, so these strategies give it real ones of varied size and colour.
"""

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image


def _image(format_name: str, width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format_name)
    return out.getvalue()


def _images(format_name: str) -> st.SearchStrategy[bytes]:
    side = st.integers(min_value=1, max_value=64)
    colour = st.tuples(*[st.integers(min_value=0, max_value=255)] * 3)
    return st.builds(_image, st.just(format_name), side, side, colour)


for _media_type, _format in (("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP")):
    schemathesis.openapi.media_type(_media_type, _images(_format))
