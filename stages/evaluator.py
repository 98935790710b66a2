"""Stage evaluator: train the domain classifier behind the metrics (and the unpaired translation
domain's), store the train split's features with it; write the real-data floor."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="classifier file (+ the reference features)")
    p.add_argument("--metrics", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--unpaired-out", required=True,
                   help="classifier of the unpaired translation domain")


def run(a, params):
    from genbench.pipeline.prepare import train_evaluator

    train_evaluator(params, a.data, a.out, a.metrics, a.checkpoint, a.unpaired_out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "EvaluatorView")
