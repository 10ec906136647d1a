"""The ``stance`` command line (main, commands) and the workflow's steps (steps)."""
