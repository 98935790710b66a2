"""Stage sample@<model>: seeded samples (uint8 tensor file) and a PNG grid."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True)
    p.add_argument("--weights", required=True, help="model file")
    p.add_argument("--out", required=True, help="samples tensor file")
    p.add_argument("--grid", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--data", help="processed data (translation models translate its test split)")


def run(a, params):
    from genbench.pipeline.sample import sample

    sample(params, a.model, a.weights, a.out, a.grid, a.info, a.data)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "SampleView")
