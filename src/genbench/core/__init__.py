"""The shared core every stage and every model builds on: validated configuration
(:mod:`.config`), errors, atomic I/O, data and transforms, the model registry, self-describing
model files, the one training engine and its precision choice, losses and corruptions as pure
functions.

A stage's code dependency is the set of files it imports (:mod:`.code`, hashed into its view by
the params stage), so a change to a core module reruns the stages that import it.
"""
