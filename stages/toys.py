"""Stage toys: seed 000's 2-D line GAN and mode collapse on Gaussian mixtures (ring, grid)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the toy figures")


def run(a, params):
    from genbench.pipeline.toys.runner import toys

    toys(params, a.out, a.figures)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ToysView", outputs=lambda a: (a.out, [a.figures]))
