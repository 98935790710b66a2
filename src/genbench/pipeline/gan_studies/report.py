"""Stage ``gan_studies``' report section: BigGAN's truncation curve, StyleGAN's style mixing
and path lengths, the text-to-image models' attribute agreement and Stage I vs Stage II. Their
FID/KID/precision/recall are in the main table."""

from __future__ import annotations

import pandas as pd

from genbench.core.captions import ATTRIBUTES
from genbench.doc import Heading, Images, Para, Table

CAPTIONS = ("Captions are generated from each digit's label and three measured attributes, not "
            "written by people: 'a <thickness> <slant> <size> <digit>', the levels cut at "
            "per-class quantiles of the train split of the ink (mean pixel value), the shear "
            "−μ₁₁/μ₀₂ and the radius of gyration (src/genbench/core/captions.py; every image's "
            "caption is in data/captions).")


#: its heading (also over "not run" when `studies` does not list it)
TITLE = "Modern GANs"


def _truncation(name: str, r: dict, fig: str) -> list:
    rows = {f"ψ = {k}": {m: v[m] for m in ("fid", "precision", "recall", "class_accuracy",
                                           "classes") if m in v}
            for k, v in r["thresholds"].items()}
    return [Heading(3, f"{name}: the truncation trick"),
            Para(f"Latents drawn from N(0, I) with every entry beyond ψ redrawn (Brock et al. "
                 f"2019 §3.1), {r['samples']} samples per row, classes cycling 0-9; 'none' = the "
                 f"untruncated prior (the main table's samples). Precision = fidelity, recall = "
                 f"variety (k-NN manifolds of the evaluator's features), class accuracy = the "
                 f"evaluator reads the asked-for class."),
            Table(pd.DataFrame(rows).T),
            Images([(f"{fig}/{name}_truncation_curve.png", "truncation curve", 360),
                    (f"{fig}/{name}_truncation.png", "samples per ψ", 420)])]


def _style(name: str, r: dict, fig: str) -> list:
    pz, pw = r["ppl_z"], r["ppl_w"]
    table = {"path length in Z (slerp)": {"PPL (1-99% filtered)": pz["ppl"],
                                          "median": pz["ppl_median"], "pairs": pz["pairs"]},
             "path length in W (lerp)": {"PPL (1-99% filtered)": pw["ppl"],
                                         "median": pw["ppl_median"], "pairs": pw["pairs"]}}
    return [Heading(3, f"{name}: style mixing and perceptual path length"),
            Para(f"Mixing: the first {r['coarse_layers']} of {r['styles']} styles (the 7×7 and "
                 f"14×14 layers) from latent A, the rest from B, same noise. Over {r['pairs']} "
                 f"pairs the evaluator reads A and B as different digits in "
                 f"{r.get('pairs_different', 0)}; of those the mixed image is read as A's digit "
                 f"(coarse) in {r.get('class_from_coarse', float('nan')):.1%}, as B's (fine) in "
                 f"{r.get('class_from_fine', float('nan')):.1%}, as neither in "
                 f"{r.get('class_from_neither', float('nan')):.1%}. Ink (mean pixel value) of "
                 f"the mixed image correlates {r['ink_corr_coarse']:.2f} with A's and "
                 f"{r['ink_corr_fine']:.2f} with B's."),
            Para(f"Perceptual path length (Karras et al. 2019): E[d(G(i(t)), G(i(t+ε)))/ε²], "
                 f"ε = {r['ppl_epsilon']:g}, full paths, d = {r['ppl_distance']} (no VGG/LPIPS "
                 f"here); lower = smoother. The paper's claim: shorter in W than in Z."),
            Table(pd.DataFrame(table).T),
            Images([(f"{fig}/{name}_mixing.png", "style mixing", 420)])]


def _text(name: str, r: dict, fig: str) -> list:
    rows = {}
    for attr, a in r["attributes"].items():
        lo, hi = ATTRIBUTES[attr][0], ATTRIBUTES[attr][-1]  # (the JSON's keys are sorted)
        rows[attr] = {"agreement": a["agreement"], "chance": a["chance"],
                      "words compared": f"'{hi}' − '{lo}'",
                      "value difference": a[f"{hi}_minus_{lo}"],
                      "same, real images": a[f"real_{hi}_minus_{lo}"]}
    ip = r["interpolation"]
    cp = ip["class_path"]
    out = [Heading(3, f"{name}: does the text show in the image?"),
           Para(f"Per attribute word: {r['samples_per_level']} images per level with that word "
                f"fixed (digits cycling, the other words drawn as in training); 'agreement' = "
                f"share whose measured level (the caption rule, the digit's cut points) is the "
                f"asked one, averaged over the levels; chance = 1 / levels. The value columns: "
                f"mean measured attribute for the highest minus the lowest word, in generated "
                f"and in real test images. The evaluator reads the caption's digit in "
                f"{r['class_accuracy_by_caption']:.1%} of these images."),
           Table(pd.DataFrame(rows).T),
           Para(f"Text-embedding interpolation (z fixed): thin → thick, mean ink along the path "
                f"{', '.join(f'{v:.3f}' for v in ip['thin_to_thick_ink'])}; '{cp['from']}' → "
                f"'{cp['to']}' (same other words): share read as {cp['to']} "
                f"{', '.join(f'{v:.2f}' for v in cp['share_read_as_to'])}.")]
    if "stages" in r:
        out.append(Table(pd.DataFrame(r["stages"]).T))
        out.append(Para("Stage I's 14×14 image (upsampled bilinearly) and Stage II's 28×28 "
                        "image for the same captions, z and conditioning draws."))
    imgs = [(f"{fig}/{name}_attributes.png", "one attribute word per row", 420),
            (f"{fig}/{name}_interpolation.png", "interpolation", 360)]
    if "stages" in r:
        imgs.append((f"{fig}/{name}_stages.png", "Stage I vs Stage II", 420))
    out.append(Images(imgs))
    return out


def section(g: dict, fig: str) -> list:
    if not g.get("models"):
        return []
    out = [Heading(2, TITLE),
           Para("SAGAN (self-attention at 14×14, spectral norm, hinge, TTUR; `sagan_noattn` is "
                "the same without attention: the claims table compares them over seeds), BigGAN "
                "(shared class embedding + hierarchical z into conditional batch norm, "
                "projection discriminator, orthogonal regularisation), StyleGAN (mapping network, "
                "modulated/demodulated convolutions, noise, style-mixing regularisation) and "
                "text-to-image GAN-INT-CLS and StackGAN. Their sample metrics are in the main "
                "table; below, what defines each. " + CAPTIONS)]
    for name, r in g["models"].items():
        out += {"truncation": _truncation, "style": _style, "text": _text}[r["study"]](name, r, fig)
    return out
