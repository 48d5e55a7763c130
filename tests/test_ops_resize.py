"""ops.resize: enlargement by matrix products equals F.interpolate's bicubic, values and gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from patchdna.ops import resize


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    grow_h=st.integers(0, 30),
    grow_w=st.integers(0, 30),
    channels=st.sampled_from([1, 3, 8]),
)
def test_bicubic_enlargement_matches_interpolate(height: int, width: int, grow_h: int, grow_w: int, channels: int):
    generator = torch.Generator().manual_seed(height * 97 + width)
    image = torch.randn(2, channels, height, width, generator=generator, dtype=torch.float64, requires_grad=True)
    size = (height + grow_h, width + grow_w)
    ours = resize(image, size)
    reference = F.interpolate(image, size=size, mode="bicubic", align_corners=False)
    assert ours.shape == (2, channels, *size)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    upstream = torch.randn(ours.shape, generator=generator, dtype=torch.float64)
    (ours_grad,) = torch.autograd.grad(ours, image, upstream)
    (reference_grad,) = torch.autograd.grad(reference, image, upstream)
    torch.testing.assert_close(ours_grad, reference_grad, rtol=0, atol=1e-12)


def test_float32_enlargement_and_mixed_resize():
    image = torch.randn(1, 32, 25, 34, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        resize(image, (40, 51)), F.interpolate(image, size=(40, 51), mode="bicubic", align_corners=False),
        rtol=0, atol=1e-4,
    )  # fmt: skip
    # one side shrinking: the antialiased path, unchanged
    mixed = F.interpolate(image, size=(20, 51), mode="bicubic", align_corners=False, antialias=True)
    assert torch.equal(resize(image, (20, 51)), mixed)
    assert resize(image, (25, 34)) is image
