"""One library function per DVC stage, one module per stage (so each stage's DVC dependencies
name only the code it runs): :mod:`.prepare` (download, preprocess, evaluator), :mod:`.train`,
:mod:`.sample`, :mod:`.evaluate`. Stage scripts in ``stages/`` only parse paths and call these;
every path comes from dvc.yaml, every setting from the stage's validated view of params.yaml
(:mod:`genbench.core.config`, e.g. :class:`~genbench.core.config.TrainView`)."""
