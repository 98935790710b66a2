"""Stage report: benchmark table, floor row, analyses, grids, curves, one chart per metric -> reports/ (from DVC
outputs only)."""

from genbench.cli import stage_main


def add(p):
    for name in ("metrics", "evaluator", "analyses", "analysis-figures", "toys", "toy-figures",
                 "models", "samples", "md", "html", "figures", "summary", "claims"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--published", help="published numbers (conf/published.yaml)")
    for name in ("cluster", "cluster-figures", "arithmetic", "arithmetic-figures",
                 "tangent-prop", "text", "gan-studies", "gan-studies-figures",
                 "curves"):  # optional
        p.add_argument(f"--{name}")


def run(a, params):
    from genbench.report import build_report

    build_report(params, a.metrics, a.evaluator, a.models, a.samples, a.md, a.html, a.figures,
                 a.summary, a.analyses, a.analysis_figures, a.toys, a.toy_figures,
                 a.claims, a.published,
                 {"cluster": a.cluster, "cluster_figures": a.cluster_figures,
                  "arithmetic": a.arithmetic, "arithmetic_figures": a.arithmetic_figures,
                  "tangent_prop": a.tangent_prop, "text": a.text,
                  "gan_studies": a.gan_studies, "gan_studies_figures": a.gan_studies_figures},
                 a.curves)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ReportView")
