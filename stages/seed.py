"""Stage seed@<model>-<seed>: one extra training seed of a model the claims compare — train,
sample, evaluate with the main chain's views and only the seed changed -> its metrics JSON."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--sample-params", required=True, help="params/sample/<model>.json")
    p.add_argument("--evaluate-params", required=True, help="params/evaluate/<model>.json")
    p.add_argument("--data", required=True)
    p.add_argument("--evaluator", required=True)
    p.add_argument("--unpaired-evaluator", required=True)
    p.add_argument("--out", required=True, help="metrics/seeds/<model>/<seed>.json")


def run(a, params):
    from genbench.core.config import EvaluateView, SampleView
    from genbench.params import load_view
    from genbench.pipeline.seeded import run_seed

    run_seed(params, load_view(a.sample_params, SampleView),
             load_view(a.evaluate_params, EvaluateView), a.model, a.seed, a.data, a.evaluator,
             a.unpaired_evaluator, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "TrainView")
