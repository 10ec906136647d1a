"""The error type for user mistakes: reported as a message, never as a traceback."""


class StanceError(Exception):
    """A problem with the user's input or configuration, with a message that says how to fix it."""
