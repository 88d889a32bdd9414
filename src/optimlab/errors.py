"""The errors for bad user input: the CLI prints the message as one sentence and exits with code 2.

Raise the subclass that names the kind of mistake, where the input enters (the CLI's parser, a public function's
first lines, the loader of a file), with a message that says what is wrong and how to fix it. Every class is a
:class:`ValueError`, as ``torch.optim`` raises for an invalid argument, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "BudgetError", "DataError", "HyperparameterError", "InvalidValueError", "ModelError", "ProblemError",
    "ProblemFileError", "StoreError", "UnknownNameError", "UserError",
]


class UserError(ValueError):
    """Input the user can fix (a bad name, value, file or expression); the message says how."""


class UnknownNameError(UserError):
    """A name that is not in its table (optimizer, preset set, surface, problem, language, schedule ...);
    the message suggests the closest valid names (:func:`optimlab.suggest.unknown_name`)."""


class InvalidValueError(UserError):
    """A value outside what it may be: a hyperparameter, a step count, a seed count, a point, a grid ..."""


class BudgetError(InvalidValueError):
    """A budget that cannot be read or spent (``20000`` trial-steps, ``x40`` runs, ``5min``; a study's size)."""


class ProblemError(UserError):
    """A problem, model, dataset or problem file that cannot be trained: the message names the part at fault."""


class StoreError(UserError):
    """A results store that cannot be used: missing, not SQLite, damaged, from another version, read-only."""


class ProblemFileError(ProblemError):
    """A ``PATH.py:FUNCTION`` problem or surface file that is missing, fails to import or gives the wrong thing."""


class ModelError(ProblemError):
    """A model factory, model or loss that cannot make a problem (it fails, or its output does not fit the loss)."""


class DataError(ProblemError):
    """A dataset, DataLoader or tensors that cannot make a data split (empty, wrong items, mismatched lengths)."""


class HyperparameterError(InvalidValueError):
    """An unknown hyperparameter name or a value outside its valid range; the message names the argument, the
    value and the range (or the valid names). A ``ValueError``, as torch.optim raises for invalid arguments."""
