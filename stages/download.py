"""Stage download: raw images/labels of params.data + their sha256."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="raw data directory")


def run(a, params):
    from genbench.core.data import download

    download(params.data, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "DownloadView", torch=False)
