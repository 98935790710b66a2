"""Stage ``toys``' report section: seed 000's line GAN and the mode-collapse mixtures; and its
numbers in the DVC metric (modes captured per mixture and GAN)."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Images, Para, Table

#: its heading (also over "not run" when `studies` does not list it)
TITLE = "2-D GAN experiments"


def section(toys: dict, fig_rel: str) -> list:
    return [Heading(2, TITLE), Para(_line_text(toys["line2d"])),
            Images([(f"{fig_rel}/line2d.png", "line GAN", None)]),
            Para("Mode collapse (VEEGAN/PacGAN protocol): 2,500 generated points; high "
                 "quality = within 3σ of a mode; a mode counts as captured with at least "
                 "`toys.mixtures.min_samples` high-quality points."),
            Table(_mixture_table(toys)),
            *(Images([(f"{fig_rel}/{ds}.png", ds, None)]) for ds in toys["mixtures"])]


def summary(toys: dict) -> dict:
    """Modes captured per ``<mixture>/<GAN>``: what `dvc exp show` compares."""
    return {f"{ds}/{v}": r["modes_captured"]
            for ds, res in toys["mixtures"].items() for v, r in res.items()}


def _line_text(line: dict) -> str:
    v1 = line["v_after_first_gen_update"]
    return (f"Seed 000's illustration: generator direction v from ({line['v_start'][0]:.2f}, "
            f"{line['v_start'][1]:.2f}) to ({v1[0]:.2f}, {v1[1]:.2f}) after the first generator "
            f"update (the slide: about (0.39, 0.92)), ({line['v_final'][0]:.2f}, "
            f"{line['v_final'][1]:.2f}) after {line['updates'] // 2} alternating updates; the "
            f"angle to the data direction w = (0.98, 0.2) went from {line['angle_start_deg']:.1f}° "
            f"to {line['angle_min_deg']:.1f}° at best and {line['angle_final_deg']:.1f}° at the "
            f"end (the discriminator sees |x|, so the mirror line (0.98, −0.2) looks like the "
            f"data to it, and constant-step SGD keeps oscillating around the equilibrium).")


def _mixture_table(toys: dict) -> pd.DataFrame:
    rows = []
    for ds, res in toys["mixtures"].items():
        for variant, r in res.items():
            rows.append({"mixture": ds, "GAN": variant,
                         "modes captured": f"{r['modes_captured']}/{r['modes']}",
                         "high-quality samples": r["high_quality"], "steps": r["steps"],
                         "seconds": r["seconds"]})
            extra = toys.get("seeds", {})
            if extra:  # the claims' other seeds, to see how much one seed's count says
                rows[-1]["modes, other seeds"] = ", ".join(
                    f"{e['mixtures'][ds][variant]['modes_captured']} (seed {s})"
                    for s, e in extra.items())
    return pd.DataFrame(rows).set_index(["mixture", "GAN"])
