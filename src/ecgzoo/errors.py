"""Errors for expected user mistakes: the CLI prints them as one line, without a traceback."""


class EcgzooError(Exception):
    """A mistake the user can fix (bad file, bad option); its message names the file or option."""


class DataError(EcgzooError):
    """A database file, record or reference file is missing, corrupt or malformed."""


class ConfigError(EcgzooError):
    """A configuration value, override or search space is invalid."""
