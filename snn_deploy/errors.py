"""User-facing errors: the CLI prints them as one line (``error: ...``) and exits with status 2."""


class SnnDeployError(Exception):
    """A problem with the user's input (file, option, model) that the message fully explains."""


class FormatError(SnnDeployError):
    """A file is not in the expected format (wrong type tag, version, missing or malformed field)."""


class UsageError(SnnDeployError):
    """A bad command-line option or argument value (exit status 2)."""
