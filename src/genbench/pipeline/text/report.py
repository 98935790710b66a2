"""Stage ``text``'s report section: document similarity and WordSim-353 of the word and
document vectors against their baselines."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Para, Table, pm

#: its heading (also over "not run" when `studies` does not list it)
TITLE = "Predictive learning on text"


def section(x: dict, fig_rel: str | None = None) -> list:
    docs = {k: {"Pearson r": pm(v["pearson"]), "Spearman ρ": pm(v["spearman"])}
            for k, v in x["document_similarity"].items()}
    words = {k: {"WordSim-353 Spearman ρ": pm(v["spearman"]),
                 "pairs out of vocabulary": f"{v['oov_share']['mean']:.0%}"}
             for k, v in x["wordsim353"].items()}
    d = x["documents"]
    return [Heading(2, TITLE),
            Para(f"word2vec (CBOW, skip-gram) and doc2vec (PV-DM, PV-DBOW), gensim, trained "
                 f"{x['epochs']} passes over the Lee background corpus gensim ships ({d['train']}"
                 f" news articles, {d['train_tokens']:,} tokens). Judged on the {d['test']} Lee "
                 f"test articles by the Lee et al. (2005) protocol: correlation between the "
                 f"cosine similarity of two documents' vectors and the mean human similarity "
                 f"judgement, over all {d['pairs']:,} pairs (exact correlations of estimated "
                 f"vectors; mean ± sd over {x['repeats']} seeds). Baselines: TF-IDF cosine and "
                 f"the mean of the word2vec vectors of a document's words."),
            Table(pd.DataFrame(docs).T),
            Para("Word vectors on WordSim-353 (human word-pair similarities), pairs with both "
                 "words in the vocabulary only: the small corpus misses many."),
            Table(pd.DataFrame(words).T)]
