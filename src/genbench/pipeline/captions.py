"""Stage ``captions``: the generated captions of every image of the processed splits, as data
(data/captions/<split>.tsv and thresholds.json), by the rule of :mod:`genbench.core.captions`
(label + per-class quantile levels of ink, slant and size; cut points from the train split).
The text-to-image models apply the same rule to their batches; this output is what a user
reads, greps and cites. Not written by people."""

from __future__ import annotations

import json
from pathlib import Path

from genbench.core import captions as C
from genbench.core import data as D
from genbench.core.config import PreprocessView
from genbench.core.io import write_dir_atomically
from genbench.core.transforms import to_unit


def write_captions(params: PreprocessView, processed_dir, out_dir) -> dict:
    meta = D.load_meta(processed_dir)
    splits = {s: D.load_split(processed_dir, s) for s in D.SPLITS}
    tr = splits["train"]
    th = C.fit_thresholds(to_unit(tr.x), tr.y, meta["num_classes"])
    counts = {}

    def fill(folder: Path) -> None:
        for name, sp in splits.items():
            raw = C.measure(to_unit(sp.x))
            tok = C.tokens(sp.y, C.levels(raw, sp.y, th))  # (N, LENGTH)
            lines = ["index\tlabel\t" + "\t".join(C.ATTRIBUTES) + "\tcaption"]
            for i, (y, cap) in enumerate(zip(sp.y.tolist(), C.text(tok))):
                vals = "\t".join(f"{float(raw[a][i]):.6f}" for a in C.ATTRIBUTES)
                lines.append(f"{i}\t{y}\t{vals}\t{cap}")
            (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
            counts[name] = len(sp.y)
        (folder / "thresholds.json").write_text(json.dumps(
            {"rule": "per-class quantiles of the train split: terciles (3 levels), median (2)",
             "levels": {a: list(v) for a, v in C.ATTRIBUTES.items()},
             "cuts": {a: [[round(float(c), 6) for c in row] for row in th[a]] for a in th}},
            indent=1) + "\n")

    write_dir_atomically(Path(out_dir), fill)
    return counts
