"""Set behaviour of the InstaGAN networks: equivariant masks, invariant scores, batches, empty slots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from patchdna.instagan.networks import Discriminator, Generator, NarrowConv2d, scatter_features
from patchdna.layers import init_gan_weights


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread; on a shared 2-core machine, more threads oversubscribe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(batch: int = 2, slots: int = 3, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand((batch, 3, size, size), generator=generator) * 2 - 1
    masks = (torch.rand((batch, slots, size, size), generator=generator) > 0.6).float() * 2 - 1
    valid = torch.ones((batch, slots), dtype=torch.bool)
    return image, masks, valid


def _generator() -> Generator:
    torch.manual_seed(0)
    network = Generator(width=4, residual_blocks=1)
    init_gan_weights(network)
    return network.eval()


def test_generator_is_permutation_equivariant_in_the_masks() -> None:
    network = _generator()
    image, masks, valid = _inputs()
    permutation = torch.tensor([2, 0, 1])
    with torch.no_grad():
        fake, fake_masks = network(image, masks, valid)
        fake_p, fake_masks_p = network(image, masks[:, permutation], valid[:, permutation])
    torch.testing.assert_close(fake_p, fake, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fake_masks_p, fake_masks[:, permutation], atol=1e-5, rtol=1e-4)


def test_discriminator_is_permutation_invariant_in_the_masks() -> None:
    torch.manual_seed(0)
    network = Discriminator(width=4, layers=2)
    init_gan_weights(network)
    network.eval()
    image, masks, valid = _inputs()
    with torch.no_grad():
        scores = network(image, masks, valid)
        shuffled = network(image, masks[:, [1, 2, 0]], valid[:, [1, 2, 0]])
    torch.testing.assert_close(shuffled, scores, atol=1e-5, rtol=1e-4)


def test_batch_of_two_matches_each_image_alone_and_keeps_empty_slots_empty() -> None:
    network = _generator()
    image, masks, valid = _inputs()
    valid[1, 1:] = False  # the second image has one instance; its other slots are empty
    masks[~valid] = -1.0
    with torch.no_grad():
        fake, fake_masks = network(image, masks, valid)
        alone, alone_masks = network(image[1:], masks[1:, :1], valid[1:, :1])
    assert fake.shape == (2, 3, 16, 16) and fake_masks.shape == (2, 3, 16, 16)
    assert torch.equal(fake_masks[1, 1:], torch.full((2, 16, 16), -1.0))
    # Empty slots do not change the set feature, so image 2 translates as if it came alone.
    torch.testing.assert_close(fake[1:], alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fake_masks[1:, :1], alone_masks, atol=1e-5, rtol=1e-4)


def test_mask_decoder_matches_the_official_per_instance_concatenation() -> None:
    """The image half of the mask decoder's first layer runs once per image: same masks as decoding
    [instance feature, image feature, set feature] for every instance, as the official generator does."""
    network = _generator()
    image, masks, valid = _inputs(batch=3)
    valid[1, 1:] = False  # 3, 1 and 0 instances
    valid[2] = False
    masks[~valid] = -1.0
    with torch.no_grad():
        _, fake_masks = network(image, masks, valid)
        image_feature = network.image_encoder(image)
        instance = network.mask_encoder(masks[valid].unsqueeze(1))
        set_feature = scatter_features(instance, valid).sum(1)
        owner = valid.nonzero()[:, 0]
        official = network.mask_decoder(torch.cat([instance, image_feature[owner], set_feature[owner]], 1))
    torch.testing.assert_close(fake_masks[valid], official[:, 0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("out_channels", [1, 3])
def test_narrow_conv_matches_conv2d_forward_and_backward(out_channels: int) -> None:
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(6, out_channels, 7)
    narrow = NarrowConv2d(6, out_channels, 7)
    narrow.load_state_dict(reference.state_dict())
    x = torch.randn(2, 6, 13, 11, requires_grad=True)
    grad = torch.randn(2, out_channels, 7, 5)
    expected = reference(x)
    expected.backward(grad)
    expected_grads = [x.grad.clone(), reference.weight.grad, reference.bias.grad]  # type: ignore[union-attr]
    x.grad = None
    got = narrow(x)
    got.backward(grad)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    for value, want in zip([x.grad, narrow.weight.grad, narrow.bias.grad], expected_grads):
        torch.testing.assert_close(value, want, atol=1e-4, rtol=1e-4)


def test_generator_runs_with_no_valid_mask() -> None:
    network = _generator()
    image, masks, valid = _inputs(batch=2, slots=2)
    valid[:] = False
    masks[:] = -1.0
    with torch.no_grad():
        fake, fake_masks = network(image, masks, valid)
    assert torch.isfinite(fake).all() and torch.equal(fake_masks, masks)


def test_paper_widths_match_the_official_parameter_count() -> None:
    parameters = sum(p.numel() for p in Generator(width=64, residual_blocks=9).parameters())
    assert abs(parameters / 1e6 - 26.8) < 0.1
