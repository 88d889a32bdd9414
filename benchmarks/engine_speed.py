"""The executors' speed (issue 13).

(a) per-trial executor against the same trials as hand-written torch loops (module, ``torch.optim``, the same
    batches, ``model.eval()`` for one validation pass at the end): the executor's overhead, on a GRU language
    model and a BatchNorm CNN (the models it exists for), with ``torch.optim.Adam`` on both sides and with
    optimlab's drop-in Adam in the executor. Bar: overhead ≤ 5 %.
(b) local processes: 16 small-model trials (the MNIST-1D MLP as two sub-populations) and 8 GRU trials (one by
    one) in 2 worker processes with one thread each, against one process with 2 threads and with ``--threads``.
    The pool's start (a forkserver importing torch and optimlab, then the workers) is timed apart; later runs
    reuse the pool.
(c) the population executor: ``run_trials`` (probe, choice, executor) against ``training.train`` on the same
    64 MLP trials, so the new layer costs nothing; ``benchmarks/population_speed.py`` gives the absolute figures.

Timings alternate between the two sides of each comparison, ``--repeats`` times; the best of each is compared.

    python benchmarks/engine_speed.py --threads 1   # ~20 minutes on a busy 2-core machine
    python benchmarks/engine_speed.py --threads 1 --parts a --repeats 8   # only (a), more alternations
    python benchmarks/engine_speed.py --quick       # smoke test

Ends with ``RESULT engine_speed per_trial_overhead_pct=A processes_speedup_mlp=B processes_speedup_gru=C
population_layer_pct=D``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from optimlab.engine import PerTrialExecutor, PopulationExecutor, ProcessExecutor, run_trials
from optimlab.engine.per_trial import TRAINING_SEED_OFFSET
from optimlab.population import Trial
from optimlab.problems.base import Data, ModuleProblem, Split
from optimlab.problems.catalog import get_problem
from optimlab.training import BatchStream, batch_size_for, train

VOCAB, CONTEXT = 32, 32


class GRULanguageModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Linear(64, VOCAB)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.gru(self.embed(ids))[0])


def batchnorm_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 16, 5, padding=2), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU(), nn.AdaptiveAvgPool1d(4), nn.Flatten(),
        nn.Linear(128, 10),
    )


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def gru_problem() -> ModuleProblem:
    """A character-level GRU on a synthetic text with structure (each symbol depends on the one two back)."""
    g = torch.Generator().manual_seed(0)
    n = 2048
    text = torch.randint(0, VOCAB, (n, CONTEXT + 1), generator=g)
    for t in range(2, CONTEXT + 1):
        text[:, t] = (text[:, t - 2] * 3 + 1) % VOCAB
    x, y = text[:, :-1], text[:, 1:]
    data = Data(Split(x[:1536], y[:1536]), Split(x[1536:1792], y[1536:1792]), Split(x[1792:], y[1792:]))
    return ModuleProblem(name="gru-lm", make_module=GRULanguageModel, data=data, loss_fn=sequence_loss,
                         default_steps=200, default_batch_size=32)


def cnn_problem() -> ModuleProblem:
    mnist = get_problem("mnist1d-mlp")
    return ModuleProblem(name="bn-cnn", make_module=batchnorm_cnn, data=mnist.data,
                         loss_fn=nn.functional.cross_entropy, default_steps=200, default_batch_size=64)


def hand_written(problem: ModuleProblem, trials: list[Trial], steps: int) -> float:
    """The loops a user writes for these trials; seconds."""
    start = time.perf_counter()
    for trial in trials:
        with torch.random.fork_rng(devices=[]):
            model = problem.module_for(trial.seed)
            torch.manual_seed(trial.seed + TRAINING_SEED_OFFSET)
            opt = torch.optim.Adam(model.parameters(), **trial.hypers)
            stream = BatchStream(len(problem.data.train), batch_size_for(trial, problem), trial.seed)
            model.train()
            for _ in range(steps):
                inputs, targets = problem.data.train.take(stream.next())
                opt.zero_grad()
                loss = problem.loss_fn(model(inputs), targets)
                loss.item()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                problem.loss_fn(model(problem.data.valid.inputs), problem.data.valid.targets).item()
    return time.perf_counter() - start


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def alternate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, side in sides.items():
            times[name].append(side())
    return times


def show(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def per_trial_overhead(problem: ModuleProblem, k: int, steps: int, repeats: int) -> tuple[float, list[str]]:
    """Each trial timed alternately on the three sides, ``repeats`` times; a side's time is the sum over trials of
    its best (short alternations keep the machine's drift out of the comparison)."""
    trials = [Trial("adam", {"lr": 10 ** (-3 + 0.25 * (i % 4))}, seed=i) for i in range(k)]
    torch_adam = PerTrialExecutor(optimizer_factory=torch.optim.Adam)
    times: dict[str, list[float]] = {"hand": [0.0] * repeats, "executor": [0.0] * repeats, "drop-in": [0.0] * repeats}
    best = dict.fromkeys(times, 0.0)
    for trial in trials:
        one = [trial]
        per_trial = alternate({
            "hand": lambda one=one: hand_written(problem, one, steps),  # type: ignore[misc]
            "executor": lambda one=one: timed(  # type: ignore[misc]
                lambda: torch_adam.run(problem, one, steps, eval_splits=("valid",))),
            "drop-in": lambda one=one: timed(  # type: ignore[misc]
                lambda: PerTrialExecutor().run(problem, one, steps, eval_splits=("valid",))),
        }, repeats)
        for name, runs in per_trial.items():
            best[name] += min(runs)
            times[name] = [total + t for total, t in zip(times[name], runs, strict=True)]
    overhead = best["executor"] / best["hand"] - 1
    lines = [
        f"{'(a) ' + problem.name + ' hand-written':<50} {k:>3} {best['hand']:>8.2f}  {'':>9}  "
        f"runs {show(times['hand'])}",
        f"{'(a) ' + problem.name + ' per-trial, torch Adam':<50} {k:>3} {best['executor']:>8.2f}  "
        f"{100 * overhead:>+8.1f}%  runs {show(times['executor'])}",
        f"{'(a) ' + problem.name + ' per-trial, drop-in Adam':<50} {k:>3} {best['drop-in']:>8.2f}  "
        f"{100 * (best['drop-in'] / best['hand'] - 1):>+8.1f}%  runs {show(times['drop-in'])}",
    ]
    return overhead, lines


def overhead_per_step(steps: int, repeats: int) -> tuple[float, list[str]]:
    """The executor's own cost per step, in microseconds, where nothing else hides it: a 16-3 linear model whose
    step costs tens of microseconds, hand-written loop and executor alternately (best of ``repeats``)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 16, generator=g), torch.randint(0, 3, (256,), generator=g)
    tiny = ModuleProblem(name="linear-16-3", make_module=lambda: nn.Linear(16, 3),
                         data=Data(Split(x[:192], y[:192]), Split(x[192:224], y[192:224]), Split(x[224:], y[224:])),
                         loss_fn=nn.functional.cross_entropy, default_steps=steps, default_batch_size=16)
    trial = [Trial("adam", {"lr": 1e-3})]
    torch_adam = PerTrialExecutor(optimizer_factory=torch.optim.Adam)
    times = alternate({
        "hand": lambda: hand_written(tiny, trial, steps),
        "executor": lambda: timed(lambda: torch_adam.run(tiny, trial, steps, eval_splits=("valid",))),
    }, repeats)
    best = {name: min(runs) / steps * 1e6 for name, runs in times.items()}
    extra = best["executor"] - best["hand"]
    return extra, [
        f"{'(a) linear-16-3 hand-written, us/step':<50} {1:>3} {best['hand']:>8.1f}  {'':>9}  "
        f"runs {show([t / steps * 1e6 for t in times['hand']])}",
        f"{'(a) linear-16-3 per-trial, us/step':<50} {1:>3} {best['executor']:>8.1f}  {extra:>+7.1f}us  "
        f"runs {show([t / steps * 1e6 for t in times['executor']])}",
    ]


def processes_speedup(problem: ModuleProblem, trials: list[Trial], steps: int, inner: PopulationExecutor |
                      PerTrialExecutor, label: str, repeats: int, threads: int) -> tuple[float, list[str]]:
    """2 one-thread workers against one process with 2 threads and with ``threads`` (1: with both); the speedup
    is against the fastest single process."""
    with ProcessExecutor(workers=2, inner=inner) as workers:
        started = timed(lambda: run_trials(problem, trials[:2], 2, executor=workers))

        def in_process(count: int) -> float:
            torch.set_num_threads(count)
            try:
                return timed(lambda: inner.run(problem, trials, steps, eval_splits=("valid",)))
            finally:
                torch.set_num_threads(threads)

        sides = {f"1 process {count} thread{'s' if count > 1 else ''}": (lambda c=count: in_process(c))
                 for count in dict.fromkeys((2, threads))}
        sides["2 workers x 1 thread"] = lambda: timed(lambda: workers.run(problem, trials, steps,
                                                                          eval_splits=("valid",)))
        times = alternate(sides, repeats)
    best = {name: min(runs) for name, runs in times.items()}
    single = min(t for name, t in best.items() if name.startswith("1 process"))
    speedup = single / best["2 workers x 1 thread"]
    lines = []
    for name, runs in times.items():
        note = f"{single / best[name]:>8.2f}x" if name.startswith("2 workers") else f"{'':>9}"
        extra = f"; pool start + first 2 steps {started:.1f} s" if name.startswith("2 workers") else ""
        lines.append(f"{'(b) ' + label + ', ' + name:<50} {len(trials):>3} {best[name]:>8.2f}  {note}  "
                     f"runs {show(runs)}{extra}")
    return speedup, lines


def population_layer(steps: int, repeats: int) -> tuple[float, list[str]]:
    mlp = get_problem("mnist1d-mlp")
    trials = [Trial("adam", {"lr": 10 ** (-4 + 0.5 * i)}, seed=s, batch_size=128) for s in range(8) for i in range(8)]
    run_trials(mlp, trials, 2)  # the probe runs once per problem: outside the timings, as in a sweep
    times = alternate({
        "train": lambda: timed(lambda: train(mlp, trials, steps, eval_splits=())),
        "run_trials": lambda: timed(lambda: run_trials(mlp, trials, steps, eval_splits=())),
    }, repeats)
    best = {name: min(runs) for name, runs in times.items()}
    change = best["run_trials"] / best["train"] - 1
    return change, [
        f"{'(c) mnist1d-mlp training.train':<50} {len(trials):>3} {best['train']:>8.2f}  {'':>9}  "
        f"runs {show(times['train'])}",
        f"{'(c) mnist1d-mlp run_trials':<50} {len(trials):>3} {best['run_trials']:>8.2f}  {100 * change:>+8.1f}%  "
        f"runs {show(times['run_trials'])}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="abc", help="which comparisons to run (letters a, b, c)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = 20 if args.quick else 100
    k = 2 if args.quick else 4
    repeats_b = max(1, args.repeats - 1)  # the 2-thread side is slow on a shared machine
    print(f"machine: {args.threads} threads; the numbers compare sides timed alternately in this run")
    print(f"{'case':<50} {'K':>3} {'best s':>8}  {'vs base':>9}  notes")

    results: dict[str, str] = {}
    if "a" in args.parts:
        extra, lines = overhead_per_step(200 if args.quick else 3000, max(args.repeats, 5))
        print("\n".join(lines), flush=True)
        results["per_trial_overhead_us_per_step"] = f"{extra:.1f}"
        overheads = []
        for problem in (gru_problem(), cnn_problem()):
            overhead, lines = per_trial_overhead(problem, k, steps, args.repeats)
            overheads.append(overhead)
            print("\n".join(lines), flush=True)
        results["per_trial_overhead_pct"] = f"{100 * max(overheads):.1f}"
    if "b" in args.parts:
        results.update(processes(args.quick, steps, repeats_b, args.threads))
    if "c" in args.parts:
        change, lines = population_layer(steps // 2, args.repeats)
        print("\n".join(lines), flush=True)
        results["population_layer_pct"] = f"{100 * change:.1f}"
    print("RESULT engine_speed " + " ".join(f"{key}={value}" for key, value in results.items()))
    return 0


def processes(quick: bool, steps: int, repeats: int, threads: int) -> dict[str, str]:
    """(b): the MLP population and the GRU trial by trial, in worker processes against one process."""
    mlp = get_problem("mnist1d-mlp")
    assert isinstance(mlp, ModuleProblem)
    sixteen = [Trial("adam", {"lr": 10 ** (-3.5 + 0.25 * (i % 8))}, seed=i // 8, batch_size=128) for i in range(16)]
    speed_mlp, lines = processes_speedup(mlp, sixteen, steps * 2 // 5, PopulationExecutor(),
                                         "mnist1d-mlp population", repeats, threads)
    print("\n".join(lines), flush=True)
    gru = gru_problem()
    gru_trials = [Trial("adam", {"lr": 10 ** (-3 + 0.25 * (i % 4))}, seed=i) for i in range(4 if quick else 8)]
    speed_gru, lines = processes_speedup(gru, gru_trials, steps // 10, PerTrialExecutor(), "gru-lm per-trial",
                                         repeats, threads)
    print("\n".join(lines), flush=True)
    return {"processes_speedup_mlp": f"{speed_mlp:.2f}", "processes_speedup_gru": f"{speed_gru:.2f}"}


if __name__ == "__main__":
    raise SystemExit(main())
