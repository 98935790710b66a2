"""Stage arithmetic: attribute vectors (class b − class a, thick − thin) in the code space of
VAE, AAE and GANs, judged by the evaluator against random vectors of the same norm."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--models", required=True, help="the models folder (models/<name>/model.pt)")
    p.add_argument("--evaluator", required=True, help="evaluator/classifier.pt")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the figures")


def run(a, params):
    from genbench.pipeline.arithmetic.run import arithmetic

    arithmetic(params, a.data, a.models, a.evaluator, a.out, a.figures)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ArithmeticView", outputs=lambda a: (a.out, [a.figures]))
