"""The README is for users: short, no development history, and its results generated from the
committed run (reports/summary.json, reports/claims.json) so they cannot go stale."""

import re
from pathlib import Path

import pytest

from genbench import readme as RM

ROOT = Path(__file__).resolve().parents[1]


def test_readme_and_claims_doc_equal_the_committed_run():
    for path, (old, new) in RM.generate(ROOT).items():
        assert old == new, f"{path}: differs from reports/summary.json and " \
                           f"reports/claims.json: run `make readme`"


def test_readme_is_short_and_carries_no_history():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert not re.search(r"\bissues? #?\d+", text, re.I), "issue numbers belong in git log"
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text), "commit hashes belong in git log"


def _summary(**models):
    floor = {"fid": 14.0, "confidence": 0.986, "recall": 0.9}
    return {"gate": {"gated": 3, "read_as_digits": 1, "collapsed": 1, "unconditional_gated": 2,
                     "unconditional_read_as_digits": 1},
            "models": {"real (held-out)": floor, **models}}


CLAIMS = {"summary": {"claims": 4, "holds": 2, "fails": 1, "inconclusive": 1, "not run": 0,
                      "seeds": [0, 1, 2]}}


def test_results_cells_say_the_gate_and_leave_unmeasured_blank():
    summary = _summary(vae={"fid": 410.2, "confidence": 0.876, "recall": 0.75, "nll_nats": 103.04,
                            "reads_as_digits": 1, "collapsed": 0},
                       gsn={"fid": 1715, "confidence": 0.82, "recall": 0.04,
                            "reads_as_digits": 0, "collapsed": 1},
                       pca={"fid": 1745, "confidence": 0.69, "recall": 0.1, "collapsed": 0},
                       dcgan={"fid": 358, "confidence": 0.897, "recall": 0.82,
                              "reads_as_digits": 0, "collapsed": 0})
    text = RM.results(summary, CLAIMS, {"pca": "pca", "vae": "vae", "gsn": "gsn", "dcgan": "gan"})
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["vae"].endswith("| 410 | 0.876 | 0.75 | 103.0 | yes |")
    assert rows["gsn"].endswith("| – | **collapsed** |")  # no NLL measured
    assert rows["pca"].endswith("| exempt |") and rows["dcgan"].endswith("| no |")
    order = [n for n in rows if n in summary["models"]]
    assert order == ["pca", "vae", "gsn", "dcgan"]  # report family order, not params order
    assert "**1 of the 3 gated models read as digits**" in text and "collapsed: gsn" in text
    assert "2 hold, 1 fail, 1 are inconclusive." in text


def test_splice_needs_both_markers_once():
    doc = f"intro\n{RM.BEGIN}\nold\n{RM.END}\noutro\n"
    assert RM.splice(doc, "new") == f"intro\n{RM.BEGIN}\nnew\n{RM.END}\noutro\n"
    with pytest.raises(SystemExit, match="needs exactly one"):
        RM.splice("intro\n", "new")


def test_claims_table_lists_what_does_not_hold_failing_first():
    def c(verdict, check, **terms):
        return {"verdict": verdict, "check": check, "reason": "r",
                "terms": {k.replace("__", ":"): {"values": v} for k, v in terms.items()}}

    claims = {"summary": {**CLAIMS["summary"]},
              "claims": {"b": c("inconclusive", "gan:fid < dcgan:fid", gan__fid=[1.0, 2.0, 3.0],
                                dcgan__fid=[2.0, 1.0, 4.0]),
                         "a": c("holds", "gan:fid < 300", gan__fid=[1.0, 2.0, 3.0]),
                         "z": c("fails", "vae:fid < ae:fid", vae__fid=[400.0, 410.0, 420.5],
                                ae__fid=[100.0, 110.0, 99.0])}}
    rows = [line for line in RM.claims_table(claims).splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0][2:] for r in rows[1:]] == ["z", "b"]  # header first; no "a"
    assert "vae 400 / 410 / 420; ae 100 / 110 / 99" in rows[1]


@pytest.mark.parametrize("d_z,n", [(0.2, 156), (0.5, 27), (0.8, 12)])
def test_seeds_for_a_paired_test_match_gpower(d_z, n):
    """G*Power 3's sample sizes for a one-tailed t-test of a mean difference against 0 at
    alpha 0.05, power 0.80 (Faul et al. 2007): d = 0.2, 0.5, 0.8 need 156, 27, 12."""
    from genbench.readme import seeds_for_paired_test

    assert seeds_for_paired_test(d_z) == n and seeds_for_paired_test(-d_z) == n
    assert seeds_for_paired_test(0.0) is None
    assert seeds_for_paired_test(3.0) == 3  # the smallest sample a t-test has (2 d.o.f.)
