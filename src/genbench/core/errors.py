"""The one error type a stage turns into a one-line message and a non-zero exit."""


class GenbenchError(Exception):
    """A user-facing failure: bad config, bad data, a diverged run. The message is one line."""


class ConfigError(GenbenchError):
    """A configuration value is unknown, of the wrong type or out of range."""


class DataError(GenbenchError):
    """Raw or processed data is missing, corrupted or cannot be fetched."""


class TrainingError(GenbenchError):
    """Training cannot go on (e.g. a non-finite loss)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with where a rerun will start (the last checkpoint, or step 0:
    a run stopped before its first checkpoint cannot resume)."""
