"""Stage cluster: k-means and Ward clustering of pixels, PCA codes and every model's codes
(purity, NMI, ARI against the labels); NMF's parts vs PCA's components."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--models", required=True, help="the models folder (models/<name>/model.pt)")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the figures")


def run(a, params):
    from genbench.pipeline.cluster.run import cluster

    cluster(params, a.data, a.models, a.out, a.figures)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ClusterView", outputs=lambda a: (a.out, [a.figures]))
