"""Stage ``coverage``, all in this folder (besides its script stages/coverage.py and its entry
in dvc.yaml): :mod:`.run` computes its outputs from its view of params.yaml; :mod:`.report` is
its section of the report (``section(metrics, figures)``), which the report stage includes where
dvc.yaml passes it ``--section coverage <metrics> [<figures>]``. Nothing is imported here, so
the stage's code dependency is what it runs and the report's what it draws."""
