"""The error of model sources: a model that cannot be fetched, built or loaded."""


class ModelSourceError(ValueError):
    """A model that cannot be fetched, built or loaded; the message says the fix."""
