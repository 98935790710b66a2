"""Stage evaluate@<model>: sample metrics (FID, KID, IS, precision/recall, coverage), test
NLL/MSE, translation metrics; then the autoencoder analyses that apply to the model
(interpolation, tangents, inpainting, latent pictures, robustness, linear probe; one-class
anomaly AUROC and few-label fine-tuning for the listed models); then the model's MLflow run."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--evaluator", required=True, help="classifier file (+ reference features)")
    p.add_argument("--weights", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--grid", help="the sample grid, logged to the model's MLflow run")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--unpaired-evaluator", help="classifier of the unpaired translation domain")
    p.add_argument("--analyses", required=True, help="analyses metrics JSON")
    p.add_argument("--figures", required=True, help="folder of the analysis figures")
    p.add_argument("--train-info", help="the train stage's train.json (for the MLflow run)")
    p.add_argument("--losses", help="the train stage's losses.csv (for the MLflow run)")
    p.add_argument("--curve", help="the train stage's learning-curve snapshots (curve.pt)")
    p.add_argument("--curve-out", help="the measured learning curve (CSV, a DVC plot)")


def run(a, params):
    from genbench.pipeline.evaluate import evaluate

    evaluate(params, a.model, a.data, a.evaluator, a.weights, a.samples, a.out,
             a.unpaired_evaluator, a.grid, a.analyses, a.figures, a.train_info, a.losses,
             a.curve, a.curve_out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "EvaluateView")
