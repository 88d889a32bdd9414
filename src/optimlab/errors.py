"""The error type for bad user input: the CLI prints its message as one sentence and exits with code 2."""


class UserError(ValueError):
    """Input the user can fix (a bad name, value, file or expression); the message says how."""


class HyperparameterError(UserError):
    """An unknown hyperparameter name or a value outside its valid range; the message names the argument, the
    value and the range (or the valid names). A ``ValueError``, as torch.optim raises for invalid arguments."""
