"""Stage report: benchmark table, floor row, analyses, grids, curves, one chart per metric, then
each stage's own section -> reports/ (from DVC outputs only)."""

from genbench.cli import stage_main


def add(p):
    for name in ("metrics", "evaluator", "analyses", "analysis-figures", "models", "samples",
                 "md", "html", "figures", "summary", "claims", "curves"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--published", help="published numbers (conf/published.yaml)")
    p.add_argument("--section", nargs="+", action="append", default=[],
                   metavar=("STAGE", "METRICS"),
                   help="a stage's section: STAGE METRICS [FIGURES] (its metrics JSON and "
                        "figure folder), repeated in report order")


def run(a, params):
    from pathlib import Path

    from genbench.core.errors import ConfigError
    from genbench.report import StageInput, build_report

    stages = []
    for s in a.section:
        if len(s) not in (2, 3):
            raise ConfigError(f"--section {' '.join(s)}: expected STAGE METRICS [FIGURES]")
        stages.append(StageInput(s[0], Path(s[1]), Path(s[2]) if len(s) == 3 else None))
    build_report(params, a.metrics, a.evaluator, a.models, a.samples, a.md, a.html, a.figures,
                 a.summary, a.analyses, a.analysis_figures, a.claims, a.published, stages,
                 a.curves)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ReportView")
