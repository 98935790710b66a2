"""`make exps`: dvc exp show's JSON -> one line of param changes per experiment and narrow
metric tables."""

from __future__ import annotations

from genbench.exps import changes, parse, render


def _node(rev, name, params, fid, exps=None):
    summary = {"models": {m: {"fid": v} for m, v in fid.items()}}
    return {"rev": rev, "name": name, "experiments": exps, "error": None,
            "data": {"timestamp": "2026-12-01T02:33:29",
                     "params": {"params.yaml": {"data": params}},
                     "metrics": {"reports/summary.json": {"data": summary}}}}


def _params(models, data="mnist5k", **vae):
    return {"seed": 0, "data": {"name": data, "image_size": 28 if data == "mnist5k" else 8},
            "budget": {"name": "default"},
            "models": {m: {"kind": m, "lr": 0.001, **(vae if m == "vae" else {})}
                       for m in models}}


def _show():
    many = [f"model_{i:02d}" for i in range(38)] + ["vae", "gmm"]
    exps = [{"name": f"exp-{i}", "revs": [_node(f"{i}" * 40, f"exp-{i}", p, f)]} for i, (p, f) in
            enumerate([(_params(["vae"], "digits", latent_dim=8), {"vae": 4.3}),
                       (_params(["vae", "gmm"], "digits"), {"vae": 4.6, "gmm": 0.15})])]
    base = _node("a" * 40, "main", _params(many), {m: 100.0 + i for i, m in enumerate(many)},
                 exps)
    return [_node("workspace", None, _params(["vae"], "digits"), {"vae": 4.62}), base]


def test_changes_name_the_selection_the_groups_and_the_keys():
    base, other = _params(["vae", "gmm", "pca"]), _params(["vae"], "digits", latent_dim=8)
    flat = lambda d: parse([_node("b" * 40, "x", d, {})])[0].params
    line = changes(flat(base), flat(other))
    assert line == "models: vae (2 dropped); data=digits; models.vae.latent_dim=8"
    assert changes(flat(base), flat(base)) == "(same params)"


def test_render_fits_200_columns_and_lists_every_experiment():
    out = render(parse(_show()), ["fid"], width=200)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 200
    assert [line.split()[1] for line in lines[1:5]] == ["workspace", "main", "exp-0", "exp-1"]
    assert "models: vae (39 dropped); data=digits; models.vae.latent_dim=8" in out
    assert "(baseline)" in lines[2]
    vae = next(line for line in lines if line.startswith("vae "))
    assert vae.split()[1:] == ["4.62", "138.0", "4.30", "4.60"]
    gmm = next(line for line in lines if line.startswith("gmm "))
    assert gmm.split()[1:] == ["–", "139.0", "–", "0.15"]
    # every column says what it was measured on
    data = next(line for line in lines if line.startswith("  data "))
    assert data.split()[1:] == ["digits", "mnist5k", "digits", "digits"]
    assert next(line for line in lines if line.startswith("  budget ")).split()[1:] == \
        ["default"] * 4
