"""Stage params: validate the whole params.yaml (every model section included: a bad value stops
the pipeline here, before any stage deletes an output), check what the schema cannot (this
machine, the split sizes, model names, the claims file: genbench.pipeline.precheck), and write each stage's view of
it to params/ — the slice of the settings that stage reads, and the only one it can see — with
the hash of each source file the stage runs (its code dependency: genbench.core.code). Last,
dvc.lock's entries of stages the selection no longer has and whose files are gone are dropped
(genbench.pipeline.lockfile)."""

from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True, help="folder of the stage views")
    p.add_argument("--src", required=True, help="the genbench package (src/genbench)")
    p.add_argument("--stages", required=True, help="the folder of the stage scripts")
    p.add_argument("--conf", help="the Hydra config folder (model names are checked against it)")
    p.add_argument("--claims", help="the claims file (parsed, its models checked: the claims "
                                    "stage would find a typo after DVC deleted its output)")
    p.add_argument("--lock", help="dvc.lock: its entries of stages dvc.yaml no longer has whose "
                                  "files are gone are dropped (genbench.pipeline.lockfile)")


def run(a, params):
    from pathlib import Path

    from genbench.core.code import Sources
    from genbench.core.config import write_views
    from genbench.pipeline.precheck import check, keep_last_valid

    check(params, a.conf, a.claims)
    write_views(params, a.out, Sources(a.src, a.stages))
    keep_last_valid(a.params, a.out)
    if a.lock:
        from genbench.pipeline.lockfile import prune

        prune(Path(a.lock), Path(a.out).resolve())


def restore(a) -> str:
    from genbench.pipeline.precheck import restore_last_valid

    return restore_last_valid(a.params, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "Params", on_error=restore)
