"""The adaptive attack's parts (bench/bench_attack.py) on a small differentiable model."""

from __future__ import annotations

import torch

from bench.bench_attack import attack, quantize, success, to_8bit


class Brightness(torch.nn.Module):
    """A stand-in detector: the logit of 'fake' grows with the mean brightness of the centre."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images[..., 8:-8, 8:-8].mean(dim=(1, 2, 3)) - 0.5) * 40


def test_quantize_rounds_to_8_bits_and_passes_gradients_straight_through() -> None:
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    q = quantize(x)
    assert torch.equal(q.detach(), to_8bit(x.detach()))
    q.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # BPDA: identity backwards, not round's zero gradient


def test_pgd_stays_in_the_eps_ball_and_lowers_the_score_with_and_without_eot() -> None:
    torch.manual_seed(0)
    model = Brightness()
    images = 0.55 + 0.05 * torch.rand(3, 3, 64, 64)
    eps = 8 / 255
    assert success(model, images, 0.0) == 0.0  # all flagged
    for eot in (0, 3):
        adv = attack(model, images, eps, steps=5, eot=eot, generator=torch.Generator().manual_seed(1))
        assert (adv - images).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
        assert (model(adv) < model(images) - 1.0).all()
    # Scored through the defence, a mean over draws in [0, 1].
    rate = success(model, to_8bit(adv), 0.0, defence_draws=3, generator=torch.Generator().manual_seed(0))
    assert 0.0 <= rate <= 1.0
