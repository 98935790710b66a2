"""Stage text: word2vec (CBOW, skip-gram) and doc2vec (PV-DM, PV-DBOW) on gensim's Lee news
corpus, judged by human document similarities (Lee et al. 2005) and WordSim-353, against TF-IDF
and averaged word vectors."""

import os
import sys

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="metrics JSON")


def run(a, params):
    from genbench.pipeline.text.run import text

    text(params, a.out)


if __name__ == "__main__":
    # gensim's doc2vec inference seeds each document's start vector from Python's str hash,
    # salted per process: pin the salt, so that the same settings give the same bytes
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "PYTHONHASHSEED": "0"})
    stage_main(__doc__, add, run, "TextView", outputs=lambda a: (a.out, []))
