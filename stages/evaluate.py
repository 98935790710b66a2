"""Stage evaluate@<model>: sample metrics (FID, KID, IS, precision/recall, coverage) + test NLL/MSE."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--evaluator", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--unpaired-evaluator", help="classifier of the unpaired translation domain")


def run(a):
    from genbench import pipeline
    from genbench.config import load_params

    pipeline.evaluate(load_params(a.params), a.model, a.data, a.evaluator, a.weights, a.samples,
                      a.out, a.unpaired_evaluator)


if __name__ == "__main__":
    stage_main(__doc__, add, run)
