"""The error type for bad user input: the CLI prints its message as one sentence and exits with code 2."""


class UserError(ValueError):
    """Input the user can fix (a bad name, value, file or expression); the message says how."""
