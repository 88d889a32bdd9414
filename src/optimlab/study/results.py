"""Read a study back from the store as pandas tables (the report reads only through this)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import stats
from ..engine.tuning import at_edge
from ..errors import UserError
from .plan import Plan, choose_lr, eval_examples
from .store import Store

TRIAL_COLUMNS = ["trial_id", "key", "phase", "problem", "optimizer", "lr", "seed", "batch_size", "steps", "status",
                 "diverged_at", "seconds", "error"]
CURVE_COLUMNS = ["trial_id", "kind", "step", "value"]
CLAIM_COLUMNS = ["name", "verdict", "summary", "evidence"]


@dataclass
class StudyResults:
    """One study: its plan, one row per trial (configuration and final metrics), curves and claims."""

    study_id: str
    name: str
    plan: dict[str, Any]
    trials: pd.DataFrame
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS))
    claims: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CLAIM_COLUMNS))
    status: str = "done"
    created: str = ""

    def selected(self) -> pd.DataFrame:
        """Per problem and optimizer: the tuned learning rate and its mean selection metric on validation.

        In a defaults-only study, the default learning rate and its mean validation metric over seeds.
        Optimizers whose every learning rate diverged have no row. ``at_edge`` flags a choice at either end of
        the grid: the best learning rate may lie outside it.
        """
        rows = []
        tune = bool(self.plan.get("tune", True))
        phase = "tune" if tune else "defaults"
        part = self.trials[self.trials["phase"] == phase] if len(self.trials) else self.trials
        for problem in self.plan.get("problems", []):
            metric = self.plan.get("selection_metric", {}).get(problem, "valid_loss")
            goal = self.plan.get("goals", {}).get(problem, {}).get(metric, "min")
            for optimizer in self.plan.get("optimizers", []):
                mine = part[(part["problem"] == problem) & (part["optimizer"] == optimizer)]
                if mine.empty:
                    continue
                records = [{k: (None if _nan(v) else v) for k, v in r.items()} for r in mine.to_dict("records")]
                choice = choose_lr(records, metric, goal)
                if choice is not None:
                    grid = sorted(set(mine["lr"]))
                    edge = tune and len(grid) > 1 and at_edge(grid, choice[0])
                    rows.append({"problem": problem, "optimizer": optimizer, "lr": choice[0], "metric": metric,
                                 "value": choice[1], "at_edge": edge})
        return pd.DataFrame(rows, columns=["problem", "optimizer", "lr", "metric", "value", "at_edge"])

    def final(self) -> pd.DataFrame:
        """The scored trials: the final phase of a tuned study, or every trial of a defaults-only study."""
        phase = "final" if self.plan.get("tune", True) else "defaults"
        return self.trials[self.trials["phase"] == phase]

    def ranking(self) -> pd.DataFrame:
        """Per problem, optimizers ranked by their median score over the final seeds (diverged seeds count as
        worst: a median that is a divergence is NaN and ranks last), then the mean rank across problems."""
        final = self.final()
        metrics = {p: self.plan.get("score_metric", {}).get(p, "test_loss") for p in self.plan.get("problems", [])}
        problems = [p for p, m in metrics.items() if m in final and (final["problem"] == p).any()]
        if not problems:
            return pd.DataFrame(columns=["optimizer", "mean_rank"])
        goals = {p: self.plan.get("goals", {}).get(p, {}).get(metrics[p], "min") for p in problems}
        optimizers = list(dict.fromkeys(final.loc[final["problem"].isin(problems), "optimizer"]))
        medians = stats.median_scores(final, problems, optimizers, metrics, goals)
        ran = pd.DataFrame({o: [((final["problem"] == p) & (final["optimizer"] == o)).any() for p in problems]
                            for o in optimizers}, index=problems)
        rank = stats.ranks(medians, goals).where(ran)  # an optimizer ranks only on the problems it ran
        wide = medians.T.rename_axis("optimizer").rename_axis("problem", axis=1)
        wide["mean_rank"] = rank.mean(axis=0)
        return wide.sort_values("mean_rank", kind="stable").reset_index()

def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


EXAMPLE_COLUMNS = ("valid_examples", "valid_split_size", "test_examples", "test_split_size")
"""How many examples each trial's validation and test metrics are means over, and how many the split has."""


def _add_example_counts(trials: pd.DataFrame, plan: dict[str, Any]) -> None:
    """The :data:`EXAMPLE_COLUMNS` of every trial, from its plan (NaN where the plan does not say)."""
    for split in ("valid", "test"):
        counts = {p: eval_examples(plan, p, split) for p in trials["problem"].unique()} if len(trials) else {}
        used = [counts[p][0] for p in trials["problem"]] if len(trials) else []
        total = [counts[p][1] for p in trials["problem"]] if len(trials) else []
        trials[f"{split}_examples"] = pd.array(used, dtype="Int64")
        trials[f"{split}_split_size"] = pd.array(total, dtype="Int64")


def load_results(store_path: str | Path, study: str | None = None, *, curves: bool = True) -> StudyResults:
    """Read study ``study`` (an id or unique prefix; ``None``: the latest) from the store at ``store_path``."""
    with Store(store_path, readonly=True) as store:
        info = store.study(study)
        study_id = info["id"]
        raw = store.trials(study_id)
        plan = json.loads(info["plan_json"] or "{}")
        try:
            Plan.from_dict(plan)  # fails early on a plan this version cannot read
        except TypeError as exc:
            raise UserError(f"Study {study_id} has a plan this optimlab cannot read ({exc}).") from exc
        metric_names: list[str] = []
        for r in raw:
            for key in json.loads(r["metrics_json"] or "{}"):
                if key not in metric_names:
                    metric_names.append(key)
        rows = []
        for r in raw:
            row = {c: r.get(c) for c in TRIAL_COLUMNS}
            row["trial_id"] = r["id"]
            for m in metric_names:
                value = r.get(m)
                row[m] = math.nan if value is None else float(value)
            rows.append(row)
        trials = pd.DataFrame(rows, columns=[*TRIAL_COLUMNS, *metric_names])
        _add_example_counts(trials, plan)
        curve_rows = []
        if curves:
            for c in store.curves([r["id"] for r in raw]):
                steps, values = json.loads(c["steps_json"]), json.loads(c["values_json"])
                curve_rows += [(c["trial_id"], c["kind"], s, math.nan if v is None else v)
                               for s, v in zip(steps, values, strict=True)]
        claims = store.claims(study_id)
    return StudyResults(
        study_id=study_id, name=info["name"], plan=plan, trials=trials,
        curves=pd.DataFrame(curve_rows, columns=["trial_id", "kind", "step", "value"]),
        claims=pd.DataFrame(claims, columns=["name", "verdict", "summary", "evidence"]),
        status=info["status"], created=info["created"],
    )
