"""Stage tangent_prop: a few-label classifier with the tangent-prop penalty (known
transformations, an encoder's tangent vectors) against the same classifier without it."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--models", required=True, help="the models folder (the encoder's model.pt)")
    p.add_argument("--out", required=True, help="metrics JSON")


def run(a, params):
    from genbench.pipeline.tangent_prop.run import tangent_prop

    tangent_prop(params, a.data, a.models, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "TangentPropView", outputs=lambda a: (a.out, []))
