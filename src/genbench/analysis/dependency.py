"""The dependency field of an autoregressive model: which input pixels one output pixel's
distribution actually depends on, read off by autograd on the trained network.

The plain PixelCNN's stacked masked convolutions never reach the pixels above and to the right of
the target beyond the first kernel's half width: the *blind spot* (van den Oord et al. 2016,
"Conditional Image Generation with PixelCNN Decoders", Fig. 1; seed 004 "PixelCNN (masks A/B)").
The gated PixelCNN's vertical stack covers a full rectangle above the target and its horizontal
stack the row to its left, so nothing in its reach is missed. The Row LSTM's field is a triangle
above the target (van den Oord et al. 2016a, Fig. 4 and §3.1: it does not capture the entire
available context), the Diagonal BiLSTM's the whole past.

Measured at one target pixel: the union over images of the input pixels with a non-zero
gradient of the target's logits. The *blind spot* is then the number of unseen pixels in the
rows above the target inside the bounding box of the pixels it sees there (rows from the highest
seen row to the row above the target, columns from the leftmost to the rightmost seen column):
a hole in its reach, not the limit of the reach itself.
"""

from __future__ import annotations

import torch


def dependency_field(logits_fn, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """(H, W) bool: the input pixels (any colour) on which the logits of pixel (i, j) depend in
    any of the images ``x`` (B, C, H, W). The batch is independent, so one backward pass of the
    summed target logits gives every image's gradient."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = logits_fn(x)  # (B, K, C, H, W)
        (grad,) = torch.autograd.grad(out[..., i, j].float().sum(), x)
    return grad.abs().sum((0, 1)) != 0  # (H, W)


def field_summary(seen: torch.Tensor, i: int, j: int) -> dict:
    """Numbers of a dependency field ``seen`` (H, W) bool at target (i, j): the causal past it
    sees, the future it must not see (0 for a correct model), the reach above the target and
    the blind spot (module docstring)."""
    past = torch.zeros_like(seen)
    past[:i] = True
    past[i, :j] = True
    out = {"target": [i, j], "past_pixels": int(past.sum()),
           "seen_past": int((seen & past).sum()), "seen_future": int((seen & ~past).sum()),
           "seen_left_in_row": int(seen[i, :j].sum())}
    rows, cols = seen[:i].nonzero(as_tuple=True)
    if len(rows) == 0:
        return {**out, "rows_above": 0, "cols_left": 0, "cols_right": 0, "box_above": 0,
                "blind_spot_pixels": 0, "blind_spot_fraction": 0.0}
    r0, c0, c1 = int(rows.min()), int(cols.min()), int(cols.max())
    box = seen[r0:i, c0:c1 + 1]
    blind = int((~box).sum())
    return {**out, "rows_above": i - r0, "cols_left": j - c0, "cols_right": c1 - j,
            "box_above": box.numel(), "blind_spot_pixels": blind,
            "blind_spot_fraction": blind / box.numel()}


def field_map(seen: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """(H, W) codes for the figure: 0 future / out of reach, 1 seen, 2 blind spot, 3 target."""
    m = seen.long().clone()
    rows, cols = seen[:i].nonzero(as_tuple=True)
    if len(rows):
        r0, c0, c1 = int(rows.min()), int(cols.min()), int(cols.max())
        box = m[r0:i, c0:c1 + 1]
        box[box == 0] = 2
    m[i, j] = 3
    return m
