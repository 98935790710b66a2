"""Linear probe: a logistic regression on frozen features (fitted on the train split, scored on
the test split). Codes are compared with raw pixels and with PCA codes of the same size: a code
is useful when a linear classifier reads the class from it better than from the pixels'
best linear summary of equal dimension."""

from __future__ import annotations

import numpy as np
import torch


def linear_probe(train_feats: torch.Tensor, train_y: torch.Tensor, test_feats: torch.Tensor,
                 test_y: torch.Tensor, max_iter: int = 1000) -> float:
    """Test accuracy of a standardised L2-regularised logistic regression. feats (N, F)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with warnings.catch_warnings():  # max_iter is the budget; accuracy is what is reported
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(_np(train_feats), _np(train_y))
    return float((clf.predict(_np(test_feats)) == _np(test_y)).mean())


def pca_codes(train_x: torch.Tensor, test_x: torch.Tensor, k: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k principal-component scores of train and test images (fitted on train)."""
    from sklearn.decomposition import PCA

    k = min(k, train_x[0].numel(), len(train_x))
    pca = PCA(n_components=k, random_state=0).fit(_np(train_x.flatten(1)))
    return (torch.from_numpy(pca.transform(_np(train_x.flatten(1)))),
            torch.from_numpy(pca.transform(_np(test_x.flatten(1)))))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy() if t.is_floating_point() else t.cpu().numpy()
