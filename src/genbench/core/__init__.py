"""The shared core every stage and every model builds on: validated configuration
(:mod:`.config`), errors, atomic I/O, data and transforms, the model registry, self-describing
model files, the one training engine and its precision choice, losses and corruptions as pure
functions.

One folder on purpose: each DVC stage depends on ``src/genbench/core`` as a whole plus its own
stage module and model file (dvc.yaml), so the pipeline records one dependency for it, and a
change here reruns every model, as it should.
"""
