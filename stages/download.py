"""Stage download: raw images/labels of params.data + their sha256."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="raw data directory")


def run(a):
    from genbench import pipeline
    from genbench.config import load_params

    pipeline.download(load_params(a.params), a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run)
