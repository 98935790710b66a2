"""One library function per DVC stage, one module per stage (so each stage's code dependency,
the files it imports, :mod:`genbench.core.code`, names only the code it runs): :mod:`.prepare`
(download, preprocess, evaluator), :mod:`.train`,  Stage scripts in ``stages/`` only parse paths and call these; every path comes from dvc.yaml,
every setting from the stage's validated view of params.yaml (:mod:`genbench.core.config`, e.g.
:class:`~genbench.core.config.TrainView`)."""
