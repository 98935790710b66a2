"""Predictive learning on text (Wu's *Unsupervised Learning*: word2vec's CBOW and skip-gram,
Mikolov et al. 2013; doc2vec's PV-DM and PV-DBOW, Le & Mikolov 2014), with gensim, on the Lee
news corpus gensim ships (``gensim/test/test_data``):

- training text: ``lee_background.cor`` (300 Australian news articles);
- test: ``lee.cor`` (50 articles) and ``similarities0-1.txt``, the mean human similarity
  judgements of every pair of them (Lee, Pincombe & Welsh 2005, 0-1 scale); plus
  ``wordsim353.tsv`` (Finkelstein et al. 2002) for the word vectors.

Protocol (Lee et al. 2005, as gensim's doc2vec tutorial uses it): the Pearson correlation
between the cosine similarities of the 50 documents' vectors and the human scores over the
1,225 unordered pairs (the matrix symmetrised); Spearman's beside it. Document vectors:
doc2vec's inferred vectors (``infer_vector``); averaged word vectors of CBOW / skip-gram (the
baseline the lecture names); TF-IDF (scikit-learn's ``TfidfVectorizer``, idf from the training
text). Word vectors: WordSim-353 Spearman on the pairs in the vocabulary (gensim's
``evaluate_word_pairs``), with the share of pairs out of it (a 60,000-word corpus lacks many).
Tokens: ``gensim.utils.simple_preprocess``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    import gensim

    return Path(gensim.__file__).parent / "test" / "test_data"


def read_corpus(path: Path) -> list[list[str]]:
    from gensim.utils import simple_preprocess

    return [simple_preprocess(line) for line in path.read_text(encoding="latin-1").splitlines()]


def human_similarities(path: Path) -> np.ndarray:
    """The 50×50 human similarity matrix, symmetrised."""
    m = np.loadtxt(path)
    return (m + m.T) / 2


def pair_scores(vectors: np.ndarray, human: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman r between the cosine similarities of ``vectors`` (n, d) and
    ``human`` (n, n) over the unordered pairs i < j."""
    from scipy.stats import pearsonr, spearmanr

    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cos = v @ v.T
    i, j = np.triu_indices(len(v), 1)
    return {"pearson": float(pearsonr(cos[i, j], human[i, j])[0]),
            "spearman": float(spearmanr(cos[i, j], human[i, j])[0])}


def stable_hash(s: str) -> int:
    """gensim seeds each word's initial vector from hash(word + seed): Python's str hash is
    salted per process, crc32 is not."""
    return zlib.crc32(s.encode())


def word2vec(docs: list[list[str]], sg: int, cfg, seed: int):
    from gensim.models import Word2Vec

    return Word2Vec(docs, vector_size=cfg.vector_size, window=cfg.window,
                    min_count=cfg.min_count, sg=sg, negative=cfg.negative, epochs=cfg.epochs,
                    seed=seed, workers=1, hashfxn=stable_hash)


def doc2vec(docs: list[list[str]], dm: int, cfg, seed: int):
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    tagged = [TaggedDocument(d, [i]) for i, d in enumerate(docs)]
    return Doc2Vec(tagged, vector_size=cfg.vector_size, window=cfg.window,
                   min_count=cfg.min_count, dm=dm, negative=cfg.negative, epochs=cfg.epochs,
                   seed=seed, workers=1, hashfxn=stable_hash)


def average_vectors(wv, docs: list[list[str]]) -> np.ndarray:
    """Mean word vector per document over its in-vocabulary tokens (zeros if none)."""
    out = np.zeros((len(docs), wv.vector_size))
    for i, d in enumerate(docs):
        words = [w for w in d if w in wv.key_to_index]
        if words:
            out[i] = wv[words].mean(0)
    return out


def tfidf_vectors(train: list[list[str]], test: list[list[str]]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=lambda d: d)  # documents are token lists already
    vec.fit(train)
    return vec.transform(test).toarray()


def wordsim(wv, path: Path) -> dict[str, float]:
    """WordSim-353 on the in-vocabulary pairs: Spearman r and the out-of-vocabulary share."""
    import logging

    logging.getLogger("gensim").setLevel(logging.WARNING)
    pearson, spearman, oov = wv.evaluate_word_pairs(str(path))
    return {"spearman": float(spearman[0]), "pearson": float(pearson[0]),
            "oov_share": float(oov) / 100}
