"""The lectures' claims checked on the pipeline's metrics (conf/claims.yaml; stage ``claims``).

A claim is a chained relation between operands, ``pixelcnn:nll_nats < vae:nll_nats <
gmm:nll_nats``: an operand is ``model:metric.path`` (the model's evaluate outputs, flattened) or a
number. It is evaluated once per seed on that seed's metrics, paired: the same data split and
evaluator, models differing only in their training seed.

Verdict (a sign rule over seeds; with n seeds and no real difference the relation comes out
the same way in every seed with probability 2·2⁻ⁿ, 25% at n = 3, 6.25% at n = 5):

- **holds**: the relation is true in every seed, with at least ``min_seeds`` seeds;
- **fails**: for some adjacent pair the reverse strict relation is true in every seed (at least
  ``min_seeds``): e.g. ``a < b`` fails when ``a > b`` in every seed;
- **inconclusive**: otherwise, including too few seeds (the reason says which);
- **not run**: an operand's model is not selected, or its metric is missing.

Beside it, for a two-operand check, the paired one-sided Wilcoxon signed-rank test over the
seeds (Wilcoxon 1945; :func:`scipy.stats.wilcoxon`, exact null distribution) in the check's
direction: ``p_wilcoxon``. It does not decide the verdict; the sign rule does. With every seed
agreeing, its p is 2⁻ⁿ: 0.125 at 3 seeds (never below 0.05), 0.031 at 5, so a claim whose
models run ``more_seeds`` (5 seeds in all) that holds has p < 0.05 too; with fewer than all
seeds agreeing p says how far from a verdict the numbers are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genbench.core.errors import ConfigError
from genbench.tracking import flatten  # MLflow itself is imported only to log

OPS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
       ">=": lambda a, b: a >= b}
REVERSE = {"<": ">", ">": "<", "<=": ">", ">=": "<"}  # strictly the other way
VERDICT_CODE = {"holds": 1, "inconclusive": 0, "fails": -1}  # for `dvc metrics diff`
_TOKEN = re.compile(r"\s*(<=|>=|<|>)\s*")
_MODEL = re.compile(r"[a-z0-9_]+")  # a conf/model name, or toys
_PATH = re.compile(r"[A-Za-z0-9_.\-]+")  # a flattened metrics key


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    statement: str
    source: str
    check: str
    note: str = ""
    # seeds a verdict needs for this claim (default: the file's). 1 for a claim about what one
    # trained model does when sampled (the gan_studies stage's numbers exist for the main seed
    # only): its verdict is about that model, not about training seeds
    min_seeds: int | None = Field(default=None, ge=1)


class ClaimsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_seeds: int = Field(default=3, ge=1)
    #: seed lecture number (the file ../shared/seeds/<number>_*.txt) -> its title: the report
    #: groups the claims by the lectures their ``source`` names
    lectures: dict[str, str] = Field(default_factory=dict)
    claims: list[Claim]

    @model_validator(mode="after")
    def _sources_name_lectures(self):
        for c in self.claims:
            named = lectures_of(c.source)
            if self.lectures and (not named or set(named) - set(self.lectures)):
                raise ValueError(f"claim {c.id}: source {c.source!r} names no lecture of "
                                 f"{', '.join(self.lectures)}")
        return self


def lectures_of(source: str) -> list[str]:
    """The seed lectures a claim's source names: its three-digit numbers, in order."""
    return list(dict.fromkeys(re.findall(r"\b(\d{3})\b", source)))


@dataclass(frozen=True)
class Operand:
    model: str | None  # None: a number
    path: str = ""
    value: float = math.nan

    def __str__(self) -> str:
        return f"{self.model}:{self.path}" if self.model else f"{self.value:g}"


def parse_check(text: str) -> tuple[list[Operand], list[str]]:
    """``"a:x < b:y <= 0.5"`` -> operands and the operators between them."""
    parts = _TOKEN.split(text.strip())
    operands, ops = parts[0::2], parts[1::2]
    if len(operands) < 2 or len(operands) != len(ops) + 1:
        raise ValueError(f"{text!r}: expected operand (<, >, <=, >=) operand ...")
    out = []
    for o in operands:
        o = o.strip()
        if ":" in o:
            model, path = (x.strip() for x in o.split(":", 1))
            if not _MODEL.fullmatch(model) or not _PATH.fullmatch(path):
                raise ValueError(f"{text!r}: operand {o!r} is not model:metric.path (an "
                                 f"operator is one of <, >, <=, >=)")
            out.append(Operand(model, path))
        else:
            try:
                out.append(Operand(None, value=float(o)))
            except ValueError:
                raise ValueError(f"{text!r}: operand {o!r} is neither model:metric nor a "
                                 f"number") from None
    return out, ops


def load_claims(path: Path | str, known_models: set[str] | None = None) -> ClaimsFile:
    """conf/claims.yaml validated: schema, unique ids, every check parsed, and (with
    ``known_models``: the conf/model names) every operand's model known or ``toys`` (one-line
    errors: a typo is an error, while a known model that is not selected makes "not run")."""
    import yaml

    from genbench.core.config import validate

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: claims file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    cf = validate(ClaimsFile, raw, prefix=str(path))
    seen = set()
    for c in cf.claims:
        if c.id in seen:
            raise ConfigError(f"{path}: claim id {c.id!r} appears twice")
        seen.add(c.id)
        try:
            operands, _ = parse_check(c.check)
        except ValueError as err:
            raise ConfigError(f"{path}: claim {c.id}: check {err}") from None
        unknown = sorted({o.model for o in operands if o.model is not None}
                         - set(known_models or ()) - {"toys"}) if known_models else []
        if unknown:
            raise ConfigError(f"{path}: claim {c.id}: {', '.join(unknown)} is not a model "
                              f"(no conf/model/{unknown[0]}.yaml)")
    return cf


def _value(metrics: dict[str, dict], o: Operand) -> float | None:
    if o.model is None:
        return o.value
    v = metrics.get(o.model, {}).get(o.path)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _stats(xs: list[float]) -> dict:
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "sd": sd, "values": xs}


def _studies_of(operands: list[Operand]) -> set[str]:
    """The studies (params.yaml's ``studies``) whose numbers a check reads: the toys' as model
    ``toys``, gan_studies' as a model's ``study.`` metrics."""
    return ({"toys" for o in operands if o.model == "toys"}
            | {"gan_studies" for o in operands if o.model and o.path.startswith("study.")})


def judge(claim: Claim, per_seed: dict[int, dict[str, dict]], selected: set[str],
          min_seeds: int, unselected: set[str] = frozenset()) -> dict:
    """The verdict of ``claim`` over ``per_seed`` ({seed: {model: flat metrics}});
    ``unselected``: the studies that did not run (their stubs), whose claims are not run."""
    operands, ops = parse_check(claim.check)
    missing = sorted({o.model for o in operands if o.model and o.model != "toys"} - selected)
    missing += [f"{s} (studies)" for s in sorted(_studies_of(operands) & set(unselected))]
    out: dict[str, Any] = {"check": claim.check}
    if missing:
        return {**out, "verdict": "not run", "reason": f"not selected: {', '.join(missing)}"}
    seeds = [s for s, m in sorted(per_seed.items())
             if all(_value(m, o) is not None for o in operands)]
    if not seeds:
        absent = [str(o) for o in operands
                  if all(_value(m, o) is None for m in per_seed.values())]
        return {**out, "verdict": "not run", "reason": f"no value: {', '.join(absent)}"}
    vals = {s: [_value(per_seed[s], o) for o in operands] for s in seeds}
    true_in = sum(all(OPS[op](v[i], v[i + 1]) for i, op in enumerate(ops)) for v in vals.values())
    reversed_pairs = [i for i, op in enumerate(ops)
                      if all(OPS[REVERSE[op]](v[i], v[i + 1]) for v in vals.values())]
    n = len(seeds)
    min_seeds = claim.min_seeds or min_seeds
    if n < min_seeds:
        verdict, reason = "inconclusive", f"{n} seed{'s' if n > 1 else ''} (a verdict needs " \
                                          f"{min_seeds})"
    elif true_in == n:
        verdict, reason = "holds", f"true in all {n} seeds"
    elif reversed_pairs:
        i = reversed_pairs[0]
        verdict, reason = "fails", (f"{operands[i]} {REVERSE[ops[i]]} {operands[i + 1]} in all "
                                    f"{n} seeds")
    else:
        verdict, reason = "inconclusive", f"true in {true_in} of {n} seeds"
    terms = {str(o): _stats([vals[s][k] for s in seeds]) for k, o in enumerate(operands)
             if o.model is not None}
    test = {"p_wilcoxon": wilcoxon_p([vals[s][0] for s in seeds], [vals[s][1] for s in seeds],
                                     ops[0]),
            "effect": paired_effect([vals[s][0] for s in seeds], [vals[s][1] for s in seeds])
            } if len(operands) == 2 else {}
    return {**out, "verdict": verdict, "reason": reason, "seeds": seeds, "true_in": true_in,
            "terms": terms, **test}


def paired_effect(a: list[float], b: list[float]) -> dict:
    """The paired difference a − b over the seeds: its mean, its standard deviation (n − 1)
    and Cohen's d_z = mean / sd (Cohen 1988, the standardised mean difference of paired
    samples; None when sd = 0 or one seed): how large the difference is against its own seed
    spread. |d_z| < 0.5 with a mixed sign says why more seeds rarely decide a claim."""
    d = [x - y for x, y in zip(a, b)]
    st = _stats(d)
    return {"mean_diff": st["mean"], "sd_diff": st["sd"],
            "d_z": st["mean"] / st["sd"] if len(d) > 1 and st["sd"] > 0 else None}


def wilcoxon_p(a: list[float], b: list[float], op: str) -> float | None:
    """One-sided p of the paired Wilcoxon signed-rank test that ``a op b`` over the seeds
    (exact; zero differences dropped, Wilcoxon's rule); None when every difference is zero."""
    from scipy.stats import wilcoxon

    d = [x - y for x, y in zip(a, b) if x != y]
    if not d:
        return None
    alternative = "less" if op in ("<", "<=") else "greater"
    return float(wilcoxon(d, alternative=alternative, method="exact").pvalue)


#: how much a metric may still move over a learning curve's last segment (the last fifth of
#: training at the default 5 points) for the model to count as flattened
STEEP = 0.10


def last_change(curve_csv: Path, metric: str) -> float | None:
    """The relative change of ``metric`` over the last segment of a learning curve
    (metrics/curves/<model>.csv): (last - previous) / |previous|; None without two points."""
    import csv

    if not Path(curve_csv).exists():
        return None
    with open(curve_csv, newline="") as f:
        vals = [float(r[metric]) for r in csv.DictReader(f) if r.get(metric) not in (None, "")]
    if len(vals) < 2 or not vals[-2]:
        return None
    return (vals[-1] - vals[-2]) / abs(vals[-2])


def mark_steep(result: dict, curves_dir: Path) -> None:
    """Per claim, each model operand whose main-seed learning curve of the compared metric
    still moved by more than :data:`STEEP` over its last segment: ``steep`` {model: change}
    (a verdict decided where a curve is still steep may change with a longer budget)."""
    for c in result["claims"].values():
        if "terms" not in c:
            continue
        steep = {}
        for term in c["terms"]:
            model, path = term.split(":", 1)
            change = last_change(Path(curves_dir) / f"{model}.csv", path)
            if change is not None and abs(change) > STEEP:
                steep[model] = change
        if steep:
            c["steep"] = steep


def _study(path: Path | None) -> dict | None:
    """A study's metrics (metrics/<study>.json), or None when its stage has not run or wrote
    the stub of an unselected study."""
    from genbench.core.io import read_json

    if path is None or not Path(path).exists():
        return None
    found = read_json(path, fix=f"rerun its stage: dvc repro {Path(path).stem}")
    return None if found.get("selected") is False else found


def collect(metrics_dir: Path, analyses_dir: Path, toys: Path | None,
            models, studies: Path | None = None) -> dict[str, dict]:
    """One seed's metrics per model: metrics/models/<m>.json and metrics/analyses/<m>.json
    flattened into one dict (their keys do not overlap), the model's gan_studies numbers
    under ``study.`` (metrics/gan_studies.json), and the toys' as model ``toys``."""
    from genbench.core.io import read_json

    out: dict[str, dict] = {}
    for m in models:
        flat: dict[str, Any] = {}
        for folder in (metrics_dir, analyses_dir):
            f = Path(folder) / f"{m}.json"
            if f.exists():
                flat.update(flatten(read_json(f, fix=f"rerun its evaluate stage: dvc repro "
                                                     f"evaluate@{m}")))
        out[m] = flat
    studied = _study(studies)
    if studied is not None:
        for m, r in studied.get("models", {}).items():
            if m in out:
                out[m].update(flatten({"study": r}))
    main = _study(toys)
    if main is not None:
        out["toys"] = flatten({k: v for k, v in main.items() if k != "seeds"})
    return out


def collect_seeds(seeds_dir: Path, seeded, seeds, toys: Path | None = None) -> dict[int, dict[str, dict]]:
    """The extra seeds' metrics ({seed: {model: flat metrics and analyses}}) of the seeded
    models (metrics/seeds/<model>/<seed>.json, written by the seed stages) and of the toys
    (their ``seeds`` section). A model without extra seeds is absent from those seeds: a claim
    over it is judged on fewer seeds."""
    from genbench.core.io import read_json

    out: dict[int, dict[str, dict]] = {s: {} for s in seeds}
    main = _study(toys)
    if main is not None:
        extra = main.get("seeds", {})
        for s in seeds:
            if str(s) in extra:
                out[s]["toys"] = flatten(extra[str(s)])
    for m in seeded:
        for s in seeds:
            f = seeds_dir / m / f"{s}.json"
            if f.exists():
                r = read_json(f, fix=f"rerun it: dvc repro seed@{m}-{s}")
                out[s][m] = {**flatten(r["metrics"]), **flatten(r["analyses"])}
    return out


def check_metric_names(cf: ClaimsFile, per_seed: dict[int, dict[str, dict]],
                       selected: set[str], source: str = "conf/claims.yaml") -> None:
    """A claim on selected models whose metric no model has at all (its first name, ``fdi`` of
    ``gan:fdi``) is a typo: one-line :class:`ConfigError`, not a claim "not run". A metric only
    some models or runs have (an analysis that did not apply) stays a "no value" verdict."""
    heads = {k.split(".")[0] for models in per_seed.values() for m in models.values() for k in m}
    if not heads:  # nothing measured yet
        return
    for c in cf.claims:
        operands, _ = parse_check(c.check)
        if any(o.model and o.model != "toys" and o.model not in selected for o in operands):
            continue  # not run: not selected (judge says so)
        for o in operands:
            if o.model and o.model != "toys" and o.path.split(".")[0] not in heads:
                raise ConfigError(f"{source}: claim {c.id}: {o} names the metric "
                                  f"{o.path.split('.')[0]!r}, which no model has (metrics: "
                                  f"{', '.join(sorted(heads)[:12])}, ...)")


def evaluate_claims(cf: ClaimsFile, per_seed: dict[int, dict[str, dict]],
                    selected: set[str], more: dict | None = None,
                    unselected: set[str] = frozenset()) -> dict:
    """reports/claims.json: the verdicts and their numbers, and a count per verdict."""
    results = {c.id: {"statement": c.statement, "source": c.source,
                      **judge(c, per_seed, selected, cf.min_seeds, unselected)}
               for c in cf.claims}
    for r in results.values():
        r["verdict_code"] = VERDICT_CODE.get(r["verdict"], 0)  # numbers show in metrics diff
    counts = {v: sum(r["verdict"] == v for r in results.values())
              for v in ("holds", "fails", "inconclusive", "not run")}
    return {"summary": {"claims": len(results), **counts,
                        "seeds": sorted(per_seed), "min_seeds": cf.min_seeds,
                        # the seeds only some models run (more_seeds) and those models
                        "more_seeds": more or {"seeds": [], "models": []}},
            "lectures": cf.lectures, "claims": results}


def log_verdicts(cfg, result: dict, out: Path) -> None:
    """MLflow: one run tagged genbench.model=claims: a metric per claim (1 holds, 0
    inconclusive, -1 fails), the verdict and reason as tags, the counts, claims.json."""
    from genbench import tracking

    with tracking.run(cfg, model="claims", kind="claims") as r:
        r.log_metrics({f"claim.{k}": float(v["verdict_code"]) for k, v in result["claims"].items()})
        r.log_metrics({f"claims.{k}": float(v) for k, v in result["summary"].items()
                       if isinstance(v, (int, float))})
        r.set_tags({f"claim.{k}": f"{v['verdict']}: {v.get('reason', '')}"[:500]
                    for k, v in result["claims"].items()})
        r.log_artifact(out)


def run_claims(params, claims_file: Path, metrics_dir: Path, analyses_dir: Path,
               toys: Path | None, out: Path, seeds_dir: Path | None = None,
               studies: Path | None = None, curves_dir: Path | None = None) -> dict:
    """The ``claims`` stage on the main chains' metrics (seed ``params.seed``); claims.json
    written atomically, the verdicts logged to MLflow."""
    from genbench.core.io import write_json

    known = {f.stem for f in (Path(claims_file).parent / "model").glob("*.yaml")}
    cf = load_claims(claims_file, known or None)
    models = list(params.models)
    per_seed = {params.seed: collect(Path(metrics_dir), Path(analyses_dir), toys, models,
                                     studies)}
    if seeds_dir is not None:
        per_seed.update(collect_seeds(Path(seeds_dir), params.seeded, params.seeds, toys))
        for s, models_of_seed in collect_seeds(Path(seeds_dir), params.more_seeded,
                                               params.more_seeds).items():
            if models_of_seed:  # only the models with more seeds: claims over them get 5
                per_seed[s] = models_of_seed
    more = {"seeds": [s for s in params.more_seeds if s in per_seed],
            "models": [m for m in params.more_seeded if m in models]}
    unselected = {Path(f).stem for f in (toys, studies)
                  if f is not None and Path(f).exists() and _study(f) is None}
    check_metric_names(cf, per_seed, set(models), str(claims_file))
    result = evaluate_claims(cf, per_seed, set(models), more, unselected)
    if curves_dir is not None:
        mark_steep(result, Path(curves_dir))
    write_json(out, result)
    log_verdicts(params.mlflow, result, Path(out))
    return result
