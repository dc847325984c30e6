"""The errors a user can cause: each is reported as one line naming the key or file."""


class CnnbenchError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


class ParamsError(CnnbenchError):
    """A bad key or value in params.yaml."""


class DataError(CnnbenchError):
    """A data source or data file that cannot be used."""
