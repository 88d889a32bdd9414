"""The error type for bad user input: the CLI prints its message as one sentence and exits with code 2."""


class UserError(ValueError):
    """Input the user can fix (a bad name, value, file or expression); the message says how."""


class ProblemFileError(UserError):
    """A ``PATH.py:FUNCTION`` problem or surface file that is missing, fails to import or gives the wrong thing."""


class ModelError(UserError):
    """A model factory, model or loss that cannot make a problem (it fails, or its output does not fit the loss)."""


class DataError(UserError):
    """A dataset, DataLoader or tensors that cannot make a data split (empty, wrong items, mismatched lengths)."""
