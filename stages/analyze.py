"""Stage analyze@<model>: the autoencoder analyses (interpolation, tangents, inpainting, latent
pictures, robustness, linear probe; one-class anomaly AUROC and few-label fine-tuning for the
listed models)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--evaluator", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the analysis figures")


def run(a):
    from genbench.analysis.runner import analyze
    from genbench.config import load_params

    analyze(load_params(a.params), a.model, a.data, a.evaluator, a.weights, a.out, a.figures)


if __name__ == "__main__":
    stage_main(__doc__, add, run)
