"""Stage captions: a generated caption per image ("a thick right-slanted large seven") from its
label and measured ink, slant and size (src/genbench/core/captions.py)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--out", required=True, help="the captions folder")


def run(a, params):
    from genbench.pipeline.captions import write_captions

    write_captions(params, a.data, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "CaptionsView", outputs=lambda a: (None, [a.out]))
