"""The optimizers on the loss landscape of a small real network: 2-D slices through the solution with every tuned
optimizer's path projected on them (see :func:`landscape`)."""

from ._run import LESSON, LR_GRID, OPTIMIZERS, LandscapeResult, Slice, default_problem, landscape, lesson_landscape
from ._slice import filter_normalized, flatten, in_plane_share, pca_directions, project, unflatten

__all__ = ["LESSON", "LR_GRID", "OPTIMIZERS", "LandscapeResult", "Slice", "default_problem", "filter_normalized",
           "flatten", "in_plane_share", "landscape", "lesson_landscape", "pca_directions", "project", "unflatten"]
