"""Stage coverage: density and coverage (Naeem et al. 2020) of every model's stored outputs
beside their precision and recall, and of the held-out real images."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--evaluator", required=True, help="evaluator/classifier.pt")
    p.add_argument("--evaluator-metrics", required=True,
                   help="metrics/evaluator.json (the floor's n)")
    p.add_argument("--samples", required=True, help="the samples folder (samples/<name>/)")
    p.add_argument("--metrics", required=True, help="metrics/models (each model's n, P/R)")
    p.add_argument("--out", required=True, help="metrics JSON")


def run(a, params):
    from genbench.pipeline.coverage.run import coverage

    coverage(params, a.data, a.evaluator, a.evaluator_metrics, a.samples, a.metrics, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "CoverageView")
