"""Cheap 2-D GAN experiments (issue 4), trained through the one engine:

- :mod:`.line2d`: seed 000's illustration — a generator x = h·v and a discriminator
  sig(|x₁|w₁ + |x₂|w₂) updated in turn; v rotates toward the data direction w;
- :mod:`.mixtures`: mode collapse on a ring of 8 and a grid of 25 Gaussians (the VEEGAN/PacGAN
  protocol): modes captured and high-quality samples per GAN variant.
"""
