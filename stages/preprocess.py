"""Stage preprocess: verified raw data -> seeded stratified uint8 train/val/test splits."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--raw", required=True)
    p.add_argument("--out", required=True)


def run(a, params):
    from genbench.core.data import preprocess

    preprocess(params.data, a.raw, a.out, params.seed)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "PreprocessView")
