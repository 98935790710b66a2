"""Stage ``toys``, all in this folder (besides its script stages/toys.py and its entry in
dvc.yaml): cheap 2-D GAN experiments trained through the one engine, :mod:`.runner` the stage's
function, :mod:`.report` its report section and its numbers in the DVC metric:

- :mod:`.line2d`: seed 000's illustration — a generator x = h·v and a discriminator
  sig(|x₁|w₁ + |x₂|w₂) updated in turn; v rotates toward the data direction w;
- :mod:`.mixtures`: mode collapse on a ring of 8 and a grid of 25 Gaussians (the VEEGAN/PacGAN
  protocol): modes captured and high-quality samples per GAN variant.
"""
