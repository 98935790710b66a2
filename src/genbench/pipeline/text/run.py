"""Stage ``text``: word2vec (CBOW, skip-gram) and doc2vec (PV-DM, PV-DBOW) trained on the Lee
background corpus, ``text.repeats`` seeds each, scored by the Lee document-similarity protocol
and WordSim-353 (:mod:`genbench.analysis.text`); TF-IDF has no seed (one value)."""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np

from genbench import tracking
from genbench.analysis import text as TX
from genbench.core.config import TextView
from genbench.core.errors import DataError
from genbench.core.io import write_json

log = logging.getLogger("genbench.text")
logging.getLogger("gensim").setLevel(logging.WARNING)  # a line per model and epoch otherwise
FILES = ("lee_background.cor", "lee.cor", "similarities0-1.txt", "wordsim353.tsv")


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}


def text(params: TextView, out_json) -> dict:
    t0 = time.perf_counter()
    cfg = params.text
    d = TX.data_dir()
    missing = [f for f in FILES if not (d / f).exists()]
    if missing:
        raise DataError(f"{d}: gensim's test data lacks {', '.join(missing)}; reinstall gensim "
                        f"(the pinned version ships them)")
    train, test = TX.read_corpus(d / "lee_background.cor"), TX.read_corpus(d / "lee.cor")
    human = TX.human_similarities(d / "similarities0-1.txt")
    if human.shape != (len(test), len(test)):
        raise DataError(f"{d / 'similarities0-1.txt'}: {human.shape} scores for {len(test)} "
                        f"documents")
    cfg_run = cfg.model_copy(update={"epochs": min(cfg.epochs, params.budget.max_steps
                                                   or cfg.epochs)})
    docs: dict[str, list[dict]] = {k: [] for k in (
        "doc2vec PV-DM", "doc2vec PV-DBOW", "mean word2vec CBOW", "mean word2vec skip-gram")}
    words: dict[str, list[dict]] = {"word2vec CBOW": [], "word2vec skip-gram": []}
    for r in range(cfg.repeats):
        seed = params.seed * 1000 + r + 1  # gensim seeds must be > 0 to differ from default
        for name, sg in (("CBOW", 0), ("skip-gram", 1)):
            m = TX.word2vec(train, sg, cfg_run, seed)
            docs[f"mean word2vec {name}"].append(TX.pair_scores(TX.average_vectors(m.wv, test),
                                                                human))
            words[f"word2vec {name}"].append(TX.wordsim(m.wv, d / "wordsim353.tsv"))
        for name, dm in (("PV-DM", 1), ("PV-DBOW", 0)):
            m = TX.doc2vec(train, dm, cfg_run, seed)
            m.random.seed(seed)  # inference's negative samples
            vecs = [m.infer_vector(doc, epochs=cfg.infer_epochs) for doc in test]
            docs[f"doc2vec {name}"].append(TX.pair_scores(np.array(vecs), human))
        log.info("repeat %d: %s", r, ", ".join(f"{k} {v[-1]['pearson']:.3f}"
                                                for k, v in docs.items()))
    table = {k: {s: _summary([v[s] for v in runs]) for s in ("pearson", "spearman")}
             for k, runs in docs.items()}
    table["TF-IDF (baseline)"] = {s: _summary([v]) for s, v in
                                  TX.pair_scores(TX.tfidf_vectors(train, test), human).items()}
    out = {"documents": {"train": len(train), "test": len(test),
                         "pairs": len(test) * (len(test) - 1) // 2,
                         "train_tokens": sum(map(len, train))},
           "document_similarity": table,
           "wordsim353": {k: {s: _summary([v[s] for v in runs]) for s in
                              ("spearman", "pearson", "oov_share")} for k, runs in words.items()},
           "epochs": cfg_run.epochs, "repeats": cfg.repeats, "seconds": time.perf_counter() - t0}
    write_json(out_json, out)
    tracking.log_stage_run(params.mlflow, name="text", params={"text": cfg.model_dump()},
                           result=out, artifacts=[out_json])
    return out
