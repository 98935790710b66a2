"""Checks of params.yaml against this machine, run by the params stage before any stage that
could delete an output: a setting this machine cannot honour (``train.device: cuda`` without a
CUDA device) stops the pipeline in the first, cheap stage, not inside train@<model> after DVC
has removed that model's last good outputs."""

from __future__ import annotations

from genbench.core.errors import ConfigError


def check_machine(params) -> None:
    """Raise a one-line :class:`ConfigError` if this machine cannot run ``params`` as written.

    torch is imported only when a CUDA device is asked for (the params stage stays ~1 s)."""
    if params.train.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ConfigError(f"train.device = 'cuda': no CUDA device on this machine (torch "
                          f"{torch.__version__}, {build}); use auto or cpu")
