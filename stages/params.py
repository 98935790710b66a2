"""Stage params: validate the whole params.yaml (every model section included: a bad value stops
the pipeline here, before any stage deletes an output) and write each stage's view of it to
params/ — the slice of the settings that stage reads, and the only one it can see."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="folder of the stage views")


def run(a, params):
    from genbench.core.config import write_views

    write_views(params, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "Params")
