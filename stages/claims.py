"""Stage claims: the lectures' claims (conf/claims.yaml) judged on the models' metrics ->
reports/claims.json (its counts and a code per claim go to the report's DVC metric,
reports/summary.json) and an MLflow run of the verdicts."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--claims", required=True, help="the claims file (conf/claims.yaml)")
    p.add_argument("--metrics", required=True, help="metrics/models")
    p.add_argument("--analyses", required=True, help="metrics/analyses")
    p.add_argument("--toys", required=True, help="metrics/toys.json")
    p.add_argument("--seeds", required=True, help="metrics/seeds (<model>/<seed>.json)")
    p.add_argument("--gan-studies", default=None, help="metrics/gan_studies.json")
    p.add_argument("--curves", default=None,
                   help="metrics/curves: marks claims whose models' curves were still steep")
    p.add_argument("--out", required=True, help="reports/claims.json")


def run(a, params):
    from genbench.claims import run_claims

    run_claims(params, a.claims, a.metrics, a.analyses, a.toys, a.out, a.seeds, a.gan_studies,
               a.curves)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ClaimsView", torch=False)
