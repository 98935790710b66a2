"""Stage train@<model>: train one model through the engine (resumes from its checkpoint)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True, help="key in params.yaml's models")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="model file")
    p.add_argument("--losses", required=True, help="loss curve CSV")
    p.add_argument("--info", required=True, help="train summary JSON")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--evaluator", help="classifier file (models with a feature content loss)")
    p.add_argument("--curve", help="the learning curve's snapshots (train.curve_points states)")


def run(a, params):
    import sys

    from genbench.pipeline.train import parallel_launch, train

    # train.nproc > 1: this script again as torchrun workers (they take the branch below)
    if parallel_launch(params, a.model, a.data, sys.argv):
        return
    train(params, a.model, a.data, a.out, a.losses, a.info, a.checkpoint, a.evaluator,
          a.curve)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "TrainView")
