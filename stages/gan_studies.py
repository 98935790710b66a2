"""Stage gan_studies: BigGAN's truncation curve, StyleGAN's style mixing and path lengths,
the text-to-image models' attribute agreement and interpolations (issue 18)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--evaluate-views", required=True,
                   help="params/evaluate (each studied model's seed and evaluator settings)")
    p.add_argument("--data", required=True, help="data/processed")
    p.add_argument("--models", required=True, help="the models folder (models/<name>/model.pt)")
    p.add_argument("--evaluator", required=True, help="evaluator/classifier.pt")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the figures")


def run(a, params):
    from genbench.pipeline.gan_studies.run import gan_studies

    gan_studies(params, a.evaluate_views, a.data, a.models, a.evaluator, a.out, a.figures)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "GanStudiesView", outputs=lambda a: (a.out, [a.figures]))
