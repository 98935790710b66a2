"""Clustering of representations (Wu's *Unsupervised Learning*: k-means and hierarchical
clustering): k-means (Lloyd's algorithm, k-means++ starts: ``sklearn.cluster.KMeans``) and
agglomerative clustering with Ward's linkage (``sklearn.cluster.AgglomerativeClustering``), k =
the number of classes, scored against the labels by

- purity: Σ_clusters max_class |cluster ∩ class| / N (Manning, Raghavan & Schütze 2008,
  *Introduction to Information Retrieval* §16.3), 1/K for a random split, 1 at best;
- NMI: I(C; Y) / mean(H(C), H(Y)) (the arithmetic mean: scikit-learn's default
  ``normalized_mutual_info_score``), 0 for independent, 1 for identical partitions;
- ARI: the Rand index adjusted for chance (Hubert & Arabie 1985, ``adjusted_rand_score``),
  ≈ 0 for a random partition, 1 for identical ones.
"""

from __future__ import annotations

import numpy as np


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Σ over clusters of the count of its most common label, over N."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    _, y = np.unique(labels, return_inverse=True)
    _, c = np.unique(clusters, return_inverse=True)
    table = np.zeros((c.max() + 1, y.max() + 1), dtype=np.int64)  # (clusters, classes)
    np.add.at(table, (c, y), 1)
    return float(table.max(1).sum() / len(labels))


def scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"purity": purity(labels, clusters),
            "nmi": float(normalized_mutual_info_score(labels, clusters)),
            "ari": float(adjusted_rand_score(labels, clusters))}


def cluster(codes: np.ndarray, k: int, seed: int, n_init: int = 10) -> dict[str, np.ndarray]:
    """``{"kmeans": assignments, "ward": assignments}`` of codes (N, J), float64."""
    from sklearn.cluster import AgglomerativeClustering, KMeans

    z = np.asarray(codes, dtype=np.float64)
    return {"kmeans": KMeans(k, n_init=n_init, random_state=seed).fit_predict(z),
            "ward": AgglomerativeClustering(k, linkage="ward").fit_predict(z)}


def evaluate(codes: np.ndarray, labels: np.ndarray, k: int, seed: int, n_init: int = 10) -> dict:
    """Both clusterings of ``codes`` and their scores: ``{"kmeans": {...}, "ward": {...}}``."""
    return {name: scores(labels, c) for name, c in cluster(codes, k, seed, n_init).items()}
