"""Claims as data: the check parser, the verdict rule on hand-made seeds, and the repository's
claims file against the committed default run's metrics (every operand must resolve)."""

from __future__ import annotations

import json
import statistics

import pytest
import yaml
from conftest import ROOT

from genbench.claims import (
    Claim,
    collect,
    collect_seeds,
    evaluate_claims,
    judge,
    load_claims,
    parse_check,
)
from genbench.core.errors import ConfigError


def _claim(check: str) -> Claim:
    return Claim(id="c", statement="s", source="000", check=check)


def _seeds(*rows):  # rows of {model: {metric: value}} per seed
    return dict(enumerate(rows))


@pytest.mark.parametrize("text,ops,operands", [
    ("a:fid < b:fid", ["<"], ["a:fid", "b:fid"]),
    ("p:nll <= v:nll < g:nll", ["<=", "<"], ["p:nll", "v:nll", "g:nll"]),
    ("c:class_accuracy>=0.8", [">="], ["c:class_accuracy", "0.8"]),
    ("toys:mixtures.ring.gan.modes_captured < 8", ["<"], ["toys:mixtures.ring.gan.modes_captured",
                                                          "8"])])
def test_checks_parse(text, ops, operands):
    got, got_ops = parse_check(text)
    assert got_ops == ops and [str(o) for o in got] == operands


@pytest.mark.parametrize("text", ["a:fid", "a:fid << b:fid", "fid < b:fid", "a: < b:x", ""])
def test_bad_checks_are_refused(text):
    with pytest.raises(ValueError):
        parse_check(text)


def test_holds_fails_inconclusive_over_three_seeds():
    sel = {"a", "b"}
    holds = _seeds({"a": {"fid": 1}, "b": {"fid": 2}}, {"a": {"fid": 3}, "b": {"fid": 4}},
                   {"a": {"fid": 1}, "b": {"fid": 9}})
    r = judge(_claim("a:fid < b:fid"), holds, sel, 3)
    assert (r["verdict"], r["true_in"], r["seeds"]) == ("holds", 3, [0, 1, 2])
    assert r["terms"]["a:fid"]["mean"] == pytest.approx(5 / 3)
    assert r["terms"]["a:fid"]["sd"] == pytest.approx(statistics.stdev([1, 3, 1]))
    assert judge(_claim("a:fid > b:fid"), holds, sel, 3)["verdict"] == "fails"
    mixed = _seeds({"a": {"fid": 1}, "b": {"fid": 2}}, {"a": {"fid": 5}, "b": {"fid": 4}},
                   {"a": {"fid": 1}, "b": {"fid": 9}})
    r = judge(_claim("a:fid < b:fid"), mixed, sel, 3)
    assert r["verdict"] == "inconclusive" and r["reason"] == "true in 2 of 3 seeds"
    ties = _seeds(*[{"a": {"fid": 2}, "b": {"fid": 2}}] * 3)  # a tie is neither way
    assert judge(_claim("a:fid < b:fid"), ties, sel, 3)["verdict"] == "inconclusive"
    assert judge(_claim("a:fid <= b:fid"), ties, sel, 3)["verdict"] == "holds"


def test_chains_constants_too_few_seeds_and_missing_models():
    sel = {"p", "v", "g"}
    s = _seeds(*[{"p": {"nll": 80}, "v": {"nll": 90}, "g": {"nll": 85}}] * 3)
    r = judge(_claim("p:nll < v:nll < g:nll"), s, sel, 3)
    assert r["verdict"] == "fails" and r["reason"] == "v:nll > g:nll in all 3 seeds"
    assert judge(_claim("p:nll <= 80"), s, sel, 3)["verdict"] == "holds"
    assert judge(_claim("p:nll >= 81"), s, sel, 3)["verdict"] == "fails"
    one = judge(_claim("p:nll < v:nll"), {0: s[0]}, sel, 3)
    assert one["verdict"] == "inconclusive" and one["reason"] == "1 seed (a verdict needs 3)"
    assert one["true_in"] == 1
    r = judge(_claim("p:nll < x:nll"), s, sel, 3)
    assert (r["verdict"], r["reason"]) == ("not run", "not selected: x")
    r = judge(_claim("p:nll < v:fid"), s, sel, 3)
    assert (r["verdict"], r["reason"]) == ("not run", "no value: v:fid")


def test_the_claims_file_is_validated(tmp_path):
    bad = {"claims": [{"id": "a", "statement": "s", "source": "0", "check": "x:y < z:w"},
                      {"id": "a", "statement": "s", "source": "0", "check": "x:y < z:w"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="claim id 'a' appears twice"):
        load_claims(tmp_path / "c.yaml")
    bad["claims"] = [{"id": "a", "statement": "s", "source": "0", "check": "x:y <"}]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="claim a: check"):
        load_claims(tmp_path / "c.yaml")


def test_toys_extra_seeds_are_judged_beside_the_main_seed(tmp_path):
    """metrics/toys.json keeps the main seed at the top and each extra seed under ``seeds``;
    a mode-collapse claim is then judged over all of them."""
    import json

    ring = lambda k: {"mixtures": {"ring": {"gan": {"modes_captured": k}}}}
    toys = tmp_path / "toys.json"
    toys.write_text(json.dumps({**ring(3), "line2d": {"updates": 1},
                                "seeds": {"1": ring(5), "2": ring(8)}}))
    per_seed = {0: collect(tmp_path, tmp_path, toys, [])}
    per_seed.update(collect_seeds(tmp_path, {}, [1, 2], toys))
    assert [per_seed[s]["toys"]["mixtures.ring.gan.modes_captured"] for s in (0, 1, 2)] == [3, 5, 8]
    assert "seeds.1.mixtures.ring.gan.modes_captured" not in per_seed[0]["toys"]
    c = Claim(id="c", statement="s", source="0", check="toys:mixtures.ring.gan.modes_captured < 8")
    v = judge(c, per_seed, set(), 3)
    assert v["verdict"] == "inconclusive" and v["true_in"] == 2


def test_study_numbers_join_their_model_and_a_claim_can_need_one_seed(tmp_path):
    """metrics/gan_studies.json's numbers of model m are m's ``study.`` metrics; a claim with
    ``min_seeds: 1`` gets a verdict from the main seed alone, the others stay inconclusive."""
    import json

    (tmp_path / "big.json").write_text(json.dumps({"fid": 10.0}))
    studies = tmp_path / "gan_studies.json"
    studies.write_text(json.dumps({"models": {"big": {"study": "truncation", "thresholds": {
        "0.5": {"precision": 0.9}, "none": {"precision": 0.7}}}, "absent": {"x": 1}}}))
    per_seed = {0: collect(tmp_path, tmp_path / "none", None, ["big"], studies)}
    assert per_seed[0]["big"]["study.thresholds.0.5.precision"] == 0.9
    assert per_seed[0]["big"]["fid"] == 10.0 and "absent" not in per_seed[0]
    check = "big:study.thresholds.0.5.precision > big:study.thresholds.none.precision"
    one = Claim(id="c", statement="s", source="0", check=check, min_seeds=1)
    assert judge(one, per_seed, {"big"}, 3)["verdict"] == "holds"
    three = Claim(id="c", statement="s", source="0", check=check)
    assert judge(three, per_seed, {"big"}, 3)["verdict"] == "inconclusive"
    flipped = Claim(id="c", statement="s", source="0", check=check.replace(">", "<"), min_seeds=1)
    assert judge(flipped, per_seed, {"big"}, 3)["verdict"] == "fails"


def test_every_claim_resolves_on_the_committed_default_run(root):
    """Each operand names a metric that the default run writes (no 'no value' verdicts), and the
    file has at least 25 claims."""
    cf = load_claims(root / "conf" / "claims.yaml")
    assert len(cf.claims) >= 25
    params = yaml.safe_load((root / "params.yaml").read_text())
    models = list(params["models"])
    per_seed = {0: collect(root / "metrics" / "models", root / "metrics" / "analyses",
                           root / "metrics" / "toys.json", models,
                           root / "metrics" / "gan_studies.json")}
    result = evaluate_claims(cf, per_seed, set(models))
    assert not [k for k, v in result["claims"].items() if v["verdict"] == "not run"]
    assert result["summary"]["claims"] == len(cf.claims)


def test_report_claims_table_puts_failures_first_and_names_repeated_models():
    from genbench.report import _claims_blocks, _measured

    def term(*values):
        return {"values": list(values), "mean": statistics.fmean(values),
                "sd": statistics.stdev(values) if len(values) > 1 else 0.0}

    check = "cyclegan:model.a_to_b.cycle_l1 < cyclegan:baseline.a_to_b.cycle_l1"
    c = {"check": check, "terms": {"cyclegan:model.a_to_b.cycle_l1": term(0.02, 0.04),
                                   "cyclegan:baseline.a_to_b.cycle_l1": term(0.17, 0.17)}}
    assert _measured(c) == "cyclegan:model.a_to_b.cycle_l1 0.03 ± 0.0141 < " \
                           "cyclegan:baseline.a_to_b.cycle_l1 0.17 ± 0"
    c2 = {"check": "gan:fid < 300", "terms": {"gan:fid": term(250.0)}}
    assert _measured(c2) == "gan 250 < 300"
    c3 = {"check": "dcgan:fid < gan:fid <= 400",  # failing: the relation that holds is shown
          "terms": {"dcgan:fid": term(500.0, 540.0), "gan:fid": term(348.0)}}
    assert _measured(c3) == "dcgan 520 ± 28.28 > gan 348 < 400"
    claims = {"summary": {"claims": 3, "holds": 1, "fails": 1, "inconclusive": 1, "not run": 0,
                          "seeds": [0, 1, 2], "min_seeds": 3},
              "claims": {k: {"verdict": v, "statement": "s", "check": "gan:fid < 300",
                             "source": "0", "seeds": [0, 1, 2], "true_in": 1}
                         for k, v in (("a", "holds"), ("b", "inconclusive"), ("c", "fails"))}}
    table = _claims_blocks(claims)[2].df
    assert list(table.index) == ["c", "b", "a"]


def test_extra_seeds_run_every_analysis_the_claims_read(params):
    """The extra-seed stages run only analysis.for_seeds: each claim operand that names an
    analysis (model:<analysis>.<number>) must be in it, or that claim would see one seed."""
    from genbench.analysis.runner import NAMES
    from genbench.claims import load_claims, parse_check

    read = set()
    for c in load_claims(ROOT / "conf" / "claims.yaml").claims:
        for o in parse_check(c.check)[0]:
            head = o.path.split(".")[0] if o.model else ""
            if head in NAMES:
                read.add(head)
    assert read and read <= set(params.analysis.for_seeds), read - set(params.analysis.for_seeds)
    assert set(params.analysis.for_seeds) <= set(NAMES)


def test_a_source_must_name_a_declared_lecture(tmp_path):
    from genbench.claims import lectures_of, load_claims

    assert lectures_of('000 and 002 "CycleGAN" (Zhu et al. 2017), Table 4') == ["000", "002"]
    bad = tmp_path / "claims.yaml"
    bad.write_text('lectures: {"000": "Tresp"}\nclaims:\n  - {id: a, statement: s, '
                   'source: \'007 "a slide"\', check: "gan:fid < 300"}\n')
    with pytest.raises(ConfigError, match="claim a: source .*names no lecture of 000"):
        load_claims(bad)


def test_report_groups_claims_by_their_first_lecture_and_links_the_evidence():
    from genbench.report import _claims_blocks

    def claim(verdict, source, check):
        return {"verdict": verdict, "statement": "s", "check": check, "source": source,
                "seeds": [0, 1, 2], "true_in": 3, "reason": "r",
                "terms": {check.split(" ")[0]: {"values": [1.0], "mean": 1.0, "sd": 0.0}}}

    claims = {"summary": {"claims": 2, "holds": 1, "fails": 1, "inconclusive": 0, "not run": 0,
                          "seeds": [0, 1, 2], "min_seeds": 3},
              "lectures": {"000": "Tresp", "004": "Bios 740"},
              "claims": {"x": claim("holds", '004 "GAN"; 000 "GAN"', "gan:fid < 300"),
                         "y": claim("fails", '000 "VAE"', "vae:fid < 300")}}
    blocks = _claims_blocks(claims, {"gan": "gan", "vae": "vae"})
    titles = [b.text for b in blocks if type(b).__name__ == "Heading"]
    assert titles == ["Claims", "000: Tresp", "004: Bios 740"]
    paras = [b.text for b in blocks if type(b).__name__ == "Para"]
    assert "Evidence: [vae](#vae-vae)." in paras and "Evidence: [gan](#gan-gan)." in paras


def test_wilcoxon_p_beside_the_sign_rule():
    """The exact one-sided paired test, checked against its closed form: with every seed
    agreeing p = 2^-n (scipy's exact null distribution); it never decides the verdict."""
    five = _seeds(*[{"a": {"fid": i}, "b": {"fid": i + 1 + i}} for i in range(5)])
    r = judge(_claim("a:fid < b:fid"), five, {"a", "b"}, 3)
    assert r["verdict"] == "holds" and r["p_wilcoxon"] == pytest.approx(1 / 32)
    three = dict(list(five.items())[:3])
    assert judge(_claim("a:fid < b:fid"), three, {"a", "b"}, 3)["p_wilcoxon"] == \
        pytest.approx(1 / 8)
    # one of five reversed, the smallest difference: rank 1 of 15 against → p = 2/32
    mixed = _seeds({"a": {"fid": 2}, "b": {"fid": 1}},
                   *[{"a": {"fid": 0}, "b": {"fid": 10 * (i + 1)}} for i in range(4)])
    r = judge(_claim("a:fid < b:fid"), mixed, {"a", "b"}, 3)
    assert r["verdict"] == "inconclusive" and r["p_wilcoxon"] == pytest.approx(2 / 32)
    assert judge(_claim("a:fid > b:fid"), five, {"a", "b"}, 3)["p_wilcoxon"] == pytest.approx(1)
    ties = _seeds(*[{"a": {"fid": 2}, "b": {"fid": 2}}] * 3)
    assert judge(_claim("a:fid < b:fid"), ties, {"a", "b"}, 3)["p_wilcoxon"] is None
    chain = _seeds(*[{"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}] * 3)
    assert "p_wilcoxon" not in judge(_claim("a:x < b:x < c:x"), chain, {"a", "b", "c"}, 3)


def test_more_seeds_reach_only_their_models(tmp_path):
    """Seeds 3, 4 of the models with more seeds: a claim between two of them is judged on five
    seeds, a claim with another model on the three they share."""
    for m, seeds in (("a", (1, 2, 3, 4)), ("b", (1, 2, 3, 4)), ("c", (1, 2))):
        for s in seeds:
            f = tmp_path / m / f"{s}.json"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps({"seed": s, "metrics": {"fid": 10 * s + ord(m)},
                                     "analyses": {}}))
    per_seed = {0: {"a": {"fid": 1.0}, "b": {"fid": 2.0}, "c": {"fid": 3.0}}}
    per_seed.update(collect_seeds(tmp_path, ["a", "b", "c"], [1, 2]))
    per_seed.update(collect_seeds(tmp_path, ["a", "b"], [3, 4]))
    assert judge(_claim("a:fid < b:fid"), per_seed, {"a", "b", "c"}, 3)["seeds"] == [0, 1, 2, 3, 4]
    assert judge(_claim("a:fid < c:fid"), per_seed, {"a", "b", "c"}, 3)["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("override,message", [
    ("more_seeds=[1]", "none of seed and seeds"),
    ("more_seeds=[3,3]", "distinct seeds"),
    ("+more_seeded.pca={}", "not in seeded")])
def test_more_seeds_are_validated(override, message):
    from genbench.core.config import Params, compose_params, validate

    raw = compose_params([override], conf_dir=ROOT / "conf")
    with pytest.raises(ConfigError, match=message):
        validate(Params, raw)


@pytest.mark.parametrize("check", ["a:fid =< b:fid", "a:fid => b:fid", "a:fid < b:f id",
                                   "A:fid < b:fid"])
def test_malformed_operators_and_operands_are_refused(check):
    """`=<` used to parse as the operand "a:fid =" and the claim became "not run"."""
    with pytest.raises(ValueError, match="model:metric.path"):
        parse_check(check)


def test_a_claim_naming_no_model_is_an_error(tmp_path):
    f = tmp_path / "claims.yaml"
    f.write_text(yaml.safe_dump({"claims": [{"id": "c", "statement": "s", "source": "000",
                                             "check": "vea:fid < gan:fid"}]}))
    with pytest.raises(ConfigError, match="claim c: vea is not a model"):
        load_claims(f, {"vae", "gan"})
    assert load_claims(f) is not None  # without the list of models only the syntax is checked
    known = {p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")}
    load_claims(ROOT / "conf" / "claims.yaml", known)  # the repository's claims all resolve


def test_a_metric_no_model_has_is_an_error_one_that_did_not_apply_is_no_value(tmp_path):
    """`gan:fdi` (a typo: no model has `fdi`) stops the claims stage with one line; a metric
    whose first name exists but not for this model (an analysis that did not apply) leaves the
    claim "not run: no value", and so does a claim on a model that is not selected."""
    from genbench.claims import ClaimsFile, check_metric_names, evaluate_claims

    def claims(*checks):
        return ClaimsFile(claims=[{"id": f"c{i}", "statement": "s", "source": "000",
                                   "check": c} for i, c in enumerate(checks)])

    per_seed = {0: {"a": {"fid": 3.0, "analysis.probe.acc": 0.9}, "b": {"fid": 2.0}}}
    with pytest.raises(ConfigError, match="claim c0: a:fdi names the metric 'fdi', which no "
                                          "model has"):
        check_metric_names(claims("a:fdi < b:fid"), per_seed, {"a", "b"})
    ok = claims("b:analysis.probe.acc > 0.5", "a:fdi < z:fid", "a:fid > b:fid")
    check_metric_names(ok, per_seed, {"a", "b"})
    verdicts = [c["verdict"] for c in evaluate_claims(ok, per_seed, {"a", "b"})["claims"].values()]
    assert verdicts == ["not run", "not run", "inconclusive"]  # 1 seed of the 3 a verdict needs
    known = {p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")}
    committed = json.loads((ROOT / "metrics" / "models" / "gan.json").read_text())
    assert "fid" in committed  # the repository's claims on its committed run: no typo
    from genbench.claims import collect

    models = sorted(p.stem for p in (ROOT / "metrics" / "models").glob("*.json"))
    run = {0: collect(ROOT / "metrics" / "models", ROOT / "metrics" / "analyses",
                      ROOT / "metrics" / "toys.json", models, ROOT / "metrics" / "gan_studies.json")}
    check_metric_names(load_claims(ROOT / "conf" / "claims.yaml", known), run, set(models))


def test_claims_decided_on_a_steep_curve_are_marked(tmp_path):
    """A model whose curve of the compared metric still moved > 10% over its last segment."""
    from genbench.claims import last_change, mark_steep

    (tmp_path / "a.csv").write_text("step,fid,recall\n1,500,0.1\n2,400,0.5\n3,300,0.6\n")
    (tmp_path / "b.csv").write_text("step,fid,recall\n1,500,0.1\n2,210,0.5\n3,200,0.6\n")
    assert last_change(tmp_path / "a.csv", "fid") == pytest.approx(-0.25)
    assert last_change(tmp_path / "missing.csv", "fid") is None
    result = {"claims": {"c": {"terms": {"a:fid": {}, "b:fid": {}}}, "d": {"verdict": "x"}}}
    mark_steep(result, tmp_path)
    assert result["claims"]["c"]["steep"] == {"a": pytest.approx(-0.25)}
    assert "steep" not in result["claims"]["d"]


def test_paired_effect_is_cohens_dz_of_the_seed_differences():
    """d_z = mean(a − b) / sd(a − b) with the n − 1 sd (Cohen 1988), checked with numpy; a
    judged two-operand claim carries it."""
    import numpy as np

    from genbench.claims import paired_effect

    a, b = [3.0, 5.0, 4.0, 9.0], [1.0, 4.0, 5.0, 2.0]
    d = np.subtract(a, b)
    e = paired_effect(a, b)
    assert e["mean_diff"] == pytest.approx(d.mean())
    assert e["sd_diff"] == pytest.approx(d.std(ddof=1))
    assert e["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert paired_effect([1.0, 2.0], [0.0, 1.0])["d_z"] is None  # no spread: undefined
    c = Claim(id="c", statement="s", source="0", check="a:fid < b:fid")
    r = judge(c, {s: {"a": {"fid": x}, "b": {"fid": y}} for s, (x, y) in enumerate(zip(a, b))},
              {"a", "b"}, 3)
    assert r["effect"]["d_z"] == pytest.approx(e["d_z"])
