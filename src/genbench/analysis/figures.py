"""Matplotlib figures of the analyses (Agg backend, atomic writes)."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench.core.io import save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _img(t: torch.Tensor):
    """(C, H, W) -> what imshow takes."""
    t = t.detach().cpu().float()
    return t[0].numpy() if t.shape[0] == 1 else t.permute(1, 2, 0).numpy()


def image_rows(path: Path, rows: list[torch.Tensor], labels: list[str], title: str,
               col_titles: list[str] | None = None) -> None:
    """A table of images: one row per (N, C, H, W) tensor in [0, 1]."""
    plt = _plt()
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(0.9 * n + 1.2, 0.9 * len(rows) + 0.5),
                             squeeze=False)
    for i, (row, label) in enumerate(zip(rows, labels)):
        for j in range(n):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(_img(row[j]), cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
            if j == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
            if i == 0 and col_titles:
                ax.set_title(col_titles[j], fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def tangent_figure(path: Path, x: torch.Tensor, v: torch.Tensor, s: torch.Tensor,
                   title: str) -> None:
    """Per row: a test image, then its top right-singular vectors (signed, own colour scale)."""
    plt = _plt()
    b, k = v.shape[0], v.shape[1]
    fig, axes = plt.subplots(b, k + 1, figsize=(0.95 * (k + 1) + 0.5, 1.0 * b + 0.4),
                             squeeze=False)
    for i in range(b):
        axes[i, 0].imshow(_img(x[i]), cmap="gray", vmin=0, vmax=1)
        for j in range(k):
            img = v[i, j].view(x.shape[1:])[0].cpu().numpy()
            lim = float(abs(img).max()) or 1.0
            axes[i, j + 1].imshow(img, cmap="seismic", vmin=-lim, vmax=lim)
            axes[i, j + 1].set_title(f"σ={float(s[i, j]):.3g}", fontsize=6)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def curves(path: Path, xs, ys: dict[str, list[float]], xlabel: str, ylabel: str, title: str,
           logy: bool = False) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 3))
    for label, y in ys.items():
        ax.plot(xs, y, marker="o", ms=3, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    save_figure(path, fig)
    plt.close(fig)


def latent_figure(path: Path, codes2d: torch.Tensor, y: torch.Tensor, axis_label: str,
                  grid: torch.Tensor | None, title: str) -> None:
    """Class-coloured scatter of 2-D codes; beside it the decoded grid when there is one."""
    plt = _plt()
    ncols = 2 if grid is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 4.3), squeeze=False)
    ax = axes[0, 0]
    sc = ax.scatter(codes2d[:, 0].numpy(), codes2d[:, 1].numpy(), c=y.numpy(), cmap="tab10",
                    s=5, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), fraction=0.046)
    ax.set_title(axis_label, fontsize=8)
    if grid is not None:
        from genbench.core.io import image_grid

        n = int(len(grid) ** 0.5)
        axes[0, 1].imshow(_img(image_grid(grid, nrow=n, padding=1, pad_value=0.5)), cmap="gray")
        axes[0, 1].set_title("decoded grid over the codes' 1%–99% box", fontsize=8)
        axes[0, 1].axis("off")
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def dependency_figure(path: Path, fmap: torch.Tensor, name: str, summary: dict) -> None:
    """An autoregressive model's dependency field at one pixel (codes of
    :func:`genbench.analysis.dependency.field_map`): seen inputs, the blind spot, the target."""
    plt = _plt()
    from matplotlib.colors import ListedColormap

    fig, ax = plt.subplots(figsize=(3.4, 3.6))
    cmap = ListedColormap(["white", "0.35", "orange", "red"])
    ax.imshow(fmap.numpy(), cmap=cmap, vmin=0, vmax=3)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{name}: inputs the red pixel sees (grey);\nblind spot (orange): "
                 f"{summary['blind_spot_pixels']} px", fontsize=8)
    save_figure(path, fig)
    plt.close(fig)
