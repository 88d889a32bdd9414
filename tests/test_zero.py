"""ZeroRedundancyOptimizer (torch.distributed.optim) sharding optimlab optimizers over two CPU processes."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cases import Case, clone_params, mlp_data, mlp_loss, mlp_params, rel_error, train

WORLD = 2
STEPS = 15
TIMEOUT_S = 90.0

ZERO_CASES = [
    Case("Adam", {"lr": 1e-2, "weight_decay": 1e-2}),
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    Case("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
    Case("NAdam", {"lr": 1e-2}),
    Case("Lion", {"lr": 1e-3, "weight_decay": 0.1, "cautious": True}),  # the mask is per tensor: shards agree
    Case("ASGD", {"lr": 0.05, "t0": 5}),
    Case("Rprop", {"lr": 1e-2}),
    Case("ADOPT", {"lr": 1e-2, "weight_decay": 0.1, "decouple": True}),
    Case("AdamWScheduleFree", {"lr": 1e-2, "warmup_steps": 5}),  # it starts in train mode: no train() call needed
    Case("Muon", {"lr": 0.02}),  # the MLP's biases run its AdamW part
    Case("Adafactor", {"lr": 1e-2, "weight_decay": 1e-2}),
    Case("AdEMAMix", {"lr": 1e-2, "t_alpha_beta3": 20}),
    Case("SOAP", {"lr": 1e-2, "precondition_frequency": 3}),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, port: int, out_dir: str) -> None:
    """One rank: train every case with ZeroRedundancyOptimizer; rank 0 saves the parameters."""
    from torch.distributed.optim import ZeroRedundancyOptimizer

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60)
    )
    try:
        results: dict[str, Any] = {}
        x, y = mlp_data()
        for case in ZERO_CASES:
            params = mlp_params()
            zero = ZeroRedundancyOptimizer(params, optimizer_class=case.optimlab_class(), **case.kwargs)
            local = sum(p.numel() for g in zero.optim.param_groups for p in g["params"])
            for _ in range(STEPS):
                zero.zero_grad()
                mlp_loss(params, x, y).backward()  # every rank sees the full batch: identical gradients
                zero.step()
            results[case.id] = {"params": [p.detach() for p in params], "local": local, "type": type(zero.optim)}
        torch.save({k: {**v, "type": v["type"].__name__} for k, v in results.items()},
                   Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def zero_results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    out = tmp_path_factory.mktemp("zero")
    ctx = mp.start_processes(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=False, start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                pytest.fail(f"ZeroRedundancyOptimizer workers did not finish in {TIMEOUT_S:.0f} s")
    finally:
        for proc in ctx.processes:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
    return {r: torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)}


@pytest.mark.parametrize("case", ZERO_CASES, ids=lambda c: c.id)
def test_zero_matches_unsharded_training(case: Case, zero_results: dict[int, dict[str, Any]],
                                         float64_default: None) -> None:
    params = mlp_params()
    start = clone_params(params)
    train(case.make(params), params, STEPS)
    for rank in range(WORLD):
        got = zero_results[rank][case.id]
        assert got["type"] == case.cls
        assert rel_error(got["params"], params) <= 1e-12
    # The state really was sharded: each rank optimised part of the parameters, together all of them.
    shares = [zero_results[r][case.id]["local"] for r in range(WORLD)]
    assert all(s > 0 for s in shares) and sum(shares) == sum(p.numel() for p in params)
    assert rel_error(params, start) > 1e-3
