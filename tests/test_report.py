"""The report's evaluation choices: what an NLL is, which outputs share a table, how rows rank,
and no statement that a configured model is missing."""

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from genbench import report as R


@pytest.mark.parametrize("likelihood, pixels, kind", [
    ("exact", "binarised (static, seeded)", "exact"),
    ("lower bound (IWAE, k=64)", "binarised (static, seeded)", "lower bound"),
    ("log p(x|y) lower bound (IWAE, k=64)", "binarised (static, seeded)", "conditional bound"),
    ("AIS estimate of log Z (not a bound)", "binarised (static, seeded)", "AIS estimate"),
    ("lower bound (variational) with an AIS log Z of the top RBM", "binarised (static, seeded)",
     "bound with an AIS log Z"),
    ("exact (Gaussian density on [0,1] pixels)", "continuous [0,1]", "continuous density"),
])
def test_each_nll_says_what_it_is(likelihood, pixels, kind):
    assert R.nll_kind(likelihood, pixels) == kind


def test_a_collapsed_model_cannot_rank_first_by_its_fid():
    rows = pd.DataFrame({"fid": [390.0, 450.0, 900.0, 120.0],
                         "sample_gate": ["COLLAPSED", "no: confidence", "not gated", "yes"]},
                        index=["gmm", "wgan", "pca", "gan"])
    assert list(R._ranked(rows).index) == ["gan", "wgan", "pca", "gmm"]


def test_roles_split_unconditional_conditional_and_translation():
    df = pd.DataFrame({"kind": ["gan", "gan", "infogan", "pix2pix", "floor"],
                       "class_accuracy": [None, 0.98, 0.3, 0.97, None]},
                      index=["dcgan", "cgan", "infogan", "pix2pix", R.FLOOR])
    assert R.roles(df).to_dict() == {"dcgan": "unconditional", "cgan": "conditional",
                                     "infogan": "unconditional",  # codes are not classes
                                     "pix2pix": "translation"}


def test_the_committed_report_shows_every_configured_model_and_calls_none_missing():
    text = (ROOT / "reports/report.md").read_text()
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    for name in models:
        assert f"| {name} " in text, f"{name}: in params.yaml, in no table of the report"
        assert f"### {name} (" in text, f"{name}: no section of its own in the report"
    assert "not implemented" not in text.lower()


def test_the_dvc_metric_carries_one_number_per_claim():
    """`dvc metrics diff` shows a claim flipping as one line: summary.json has the counts and a
    code per claim; the strings stay in reports/claims.json (a plain output)."""
    from genbench.report import _claims_summary

    verdicts = {"summary": {"claims": 2, "holds": 1, "fails": 1, "inconclusive": 0,
                            "not run": 0, "seeds": [0, 1, 2], "min_seeds": 3,
                            "more_seeds": {"seeds": [], "models": []}},
                "claims": {"a": {"verdict": "holds", "verdict_code": 1, "reason": "r"},
                           "b": {"verdict": "fails", "verdict_code": -1, "reason": "r"}}}
    s = _claims_summary(verdicts)["claims"]
    assert s == {"claims": 2, "holds": 1, "fails": 1, "inconclusive": 0, "not run": 0,
                 "min_seeds": 3, "verdict": {"a": 1, "b": -1}}
    assert _claims_summary(None) == {}
