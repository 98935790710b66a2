"""``make exps``: DVC experiments side by side, readable in a 200-column terminal.

Plain ``dvc exp show`` prints a column per params.yaml leaf (~550 with the 40 models) and per
file dependency (~340), and DVC has no setting to hide them; ``--only-changed`` does not help
once experiments select other models or data (every key of a dropped model differs). This reads
``dvc exp show --json`` and prints, per experiment, the params that differ from its baseline
commit in one line, then one table per summary metric (reports/summary.json: FID, KID, test
NLL) with a row per model and a column per experiment, headed by the data set and budget it
was measured on.

    python -m genbench.exps [-A] [-n N] [--metrics fid,nll_nats] [--width 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass

from genbench.doc import fmt

SUMMARY = "reports/summary.json"
FLOOR = "real (held-out)"
TITLES = {"fid": "FID ↓", "kid": "KID ↓", "nll_nats": "test NLL, nats ↓",
          "confidence": "confidence ↑", "recall": "recall ↑",
          "reads_as_digits": "reads as digits (1 yes, 0 no)"}


@dataclass
class Exp:
    label: str  # workspace, the branch/commit, or the experiment's name
    rev: str
    created: str
    params: dict  # params.yaml, flattened
    summary: dict  # reports/summary.json
    baseline: Exp | None = None  # the commit an experiment was run from


def _flatten(d: dict, prefix: str = "") -> dict:
    from genbench.tracking import flatten

    return flatten(d, prefix)


def _data(node: dict) -> tuple[dict, dict]:
    data = node.get("data") or {}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    summary = ((data.get("metrics") or {}).get(SUMMARY) or {}).get("data") or {}
    return _flatten(params), summary


def parse(show: list[dict]) -> list[Exp]:
    """``dvc exp show --json`` -> the workspace, each baseline commit and its experiments."""
    out: list[Exp] = []
    for node in show:
        params, summary = _data(node)
        stamp = ((node.get("data") or {}).get("timestamp") or "")[:16].replace("T", " ")
        label = node["rev"] if node["rev"] == "workspace" else (node.get("name")
                                                                 or node["rev"][:7])
        rev = "-" if node["rev"] == "workspace" else node["rev"][:7]
        base = Exp(label, rev, stamp, params, summary)
        out.append(base)
        for exp in node.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("error") or not rev.get("data"):
                    continue
                p, s = _data(rev)
                stamp = (rev["data"].get("timestamp") or "")[:16].replace("T", " ")
                out.append(Exp(exp.get("name") or rev["rev"][:7], rev["rev"][:7], stamp, p, s,
                               baseline=base))
    if out and out[0].label == "workspace" and len(out) > 1:
        out[0].baseline = out[1]
    return out


def _models(params: dict) -> set[str]:
    return {k.split(".")[1] for k in params if k.startswith("models.")}


def changes(base: dict, other: dict, limit: int = 8) -> str:
    """The params of ``other`` that differ from ``base``: first the models selected (when the
    selection differs), then the config groups chosen by name (``data=digits``: the group's
    other keys are not listed), then each other ``key=value``."""
    mb, mo = _models(base), _models(other)
    gone, new = sorted(mb - mo), sorted(mo - mb)
    parts = []
    if gone or new:
        sel = ", ".join(sorted(mo)) if len(mo) <= 4 else f"{len(mo)} models"
        parts.append(f"models: {sel}" + (f" ({len(gone)} dropped)" if gone else "")
                     + (f" (+{', '.join(new)})" if new else ""))
    groups = sorted({k.split(".")[0] for k in other if k.endswith(".name") and k.count(".") == 1
                     and base.get(k) != other[k]})
    parts += [f"{g}={other[f'{g}.name']}" for g in groups]

    def shown(k: str) -> bool:
        if k.split(".")[0] in groups:
            return False
        return not (k.startswith("models.") and k.split(".")[1] in (set(gone) | set(new)))

    def value(v) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    diff = [f"{k}={value(other[k])}" for k in sorted(other)
            if shown(k) and (k not in base or base[k] != other[k])]
    diff += [f"-{k}" for k in sorted(set(base) - set(other)) if shown(k)]
    parts += diff[:limit] + ([f"… {len(diff) - limit} more"] if len(diff) > limit else [])
    return "; ".join(parts) or "(same params)"


def _table(exps: list[Exp], metric: str, width: int) -> list[str]:
    names: list[str] = []  # the largest selection's order first, the floor row last
    for e in sorted(exps, key=lambda e: -len(e.summary.get("models") or {})):
        names += [m for m, v in (e.summary.get("models") or {}).items()
                  if metric in v and m not in names]
    if not names:
        return []
    names = [n for n in names if n != FLOOR] + [n for n in names if n == FLOOR]
    w0 = max(len(n) for n in names) + 2
    per = max(1, (width - w0) // 11)  # experiment columns that fit
    lines = []
    for start in range(0, len(exps), per):
        cols = list(range(start, min(start + per, len(exps))))
        lines.append(f"{TITLES.get(metric, metric):<{w0}}" + "".join(f"{i:>11}" for i in cols))
        # what each column was measured on: a FID on the 8x8 digits at the smoke budget is
        # not comparable with one on mnist5k
        for key in ("data", "budget"):
            lines.append(f"{'  ' + key:<{w0}}" + "".join(
                f"{str(exps[i].params.get(f'{key}.name', '?'))[:10]:>11}" for i in cols))
        for n in names:
            vals = [((exps[i].summary.get("models") or {}).get(n) or {}).get(metric)
                    for i in cols]
            lines.append(f"{n:<{w0}}" + "".join(f"{fmt(v):>11}" for v in vals))
        lines.append("")
    return lines


def render(exps: list[Exp], metrics=("fid", "kid", "nll_nats"), width: int = 200) -> str:
    if not exps:
        return "no experiments (dvc exp show is empty)"
    lines = ["#  experiment        rev      created           params that differ from its baseline"]
    for i, e in enumerate(exps):
        what = "(baseline)" if e.baseline is None else changes(e.baseline.params, e.params)
        if e.baseline is not None and e.label == "workspace":
            what = "workspace vs " + e.baseline.label + ": " + what
        head = f"{i:<3}{e.label[:17]:<18}{e.rev:<9}{e.created or '–':<18}"
        room = max(20, width - len(head))
        lines.append(head + (what if len(what) <= room else what[:room - 1] + "…"))
    lines.append("")
    for m in metrics:
        lines += _table(exps, m, width)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m genbench.exps", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-A", "--all-commits", action="store_true", help="every commit's experiments")
    p.add_argument("-n", "--num", type=int, default=1, help="this many commits back (default 1)")
    p.add_argument("--metrics", default="fid,kid,nll_nats", help="summary keys, comma-separated")
    p.add_argument("--width", type=int, default=200)
    a = p.parse_args(argv)
    cmd = ["dvc", "exp", "show", "--json", "--no-fetch", "-n", str(a.num)]
    cmd += ["-A"] if a.all_commits else []
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        print(f"error: {' '.join(cmd)} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}",
              file=sys.stderr)
        return 1
    sys.stdout.write(render(parse(json.loads(r.stdout)), a.metrics.split(","), a.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
