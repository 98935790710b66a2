"""One library function per DVC stage, one module per stage (so each stage's code dependency, the
files it imports, :mod:`genbench.core.code`, names only the code it runs): :mod:`.prepare`
(download, preprocess, evaluator), :mod:`.train`, :mod:`.sample`, :mod:`.evaluate` (with
:mod:`.curve`), :mod:`.seeded` (the extra seeds), :mod:`.captions`. The stages beyond the model
chains are a folder each (``cluster``, ``arithmetic``, ``tangent_prop``, ``text``,
``gan_studies``, ``toys``, ``coverage``): ``run.py`` (or ``runner.py``) computes the stage's
outputs, ``report.py`` is its section of the report. Stage scripts in ``stages/`` only parse
paths and call these; every path comes from dvc.yaml, every setting from the stage's validated
view of params.yaml (:mod:`genbench.core.config`, e.g.
:class:`~genbench.core.config.TrainView`). Nothing is imported here."""
