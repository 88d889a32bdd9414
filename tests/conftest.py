"""Shared fixtures of the optimizer-core suite: float64 default dtype, hypothesis profile, error records."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import HealthCheck, settings

# The suite trains tiny models: with two intra-op threads on a shared 2-core machine, thread hand-offs cost
# more than the arithmetic (measured 10-40x slower), so every test runs single-threaded.
torch.set_num_threads(1)

settings.register_profile(
    "optimlab", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("optimlab")

_MAX_ERRORS: dict[str, tuple[float, str]] = {}


@pytest.fixture(autouse=True)
def _own_kept_loops(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test its own (empty) directory of kept loops (optimlab.loop_store): a test that compiles a flat step
    compiles it, instead of taking up what an earlier test kept."""
    from optimlab import loop_store

    monkeypatch.setattr(loop_store, "RECORDS", str(tmp_path_factory.mktemp("kept-loops")))
    monkeypatch.setattr(loop_store, "_found", {})


@pytest.fixture
def float64_default() -> Iterator[None]:
    """Run with float64 as torch's default dtype (torch.optim then keeps its scalar state in float64 too)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@pytest.fixture
def record_error(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Record a measured error under a topic; the worst per topic is printed at the end of the run."""

    def record(topic: str, value: float) -> None:
        worst = _MAX_ERRORS.get(topic)
        if worst is None or value > worst[0]:
            _MAX_ERRORS[topic] = (value, request.node.name)

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MAX_ERRORS:
        return
    terminalreporter.section("largest measured errors")
    for topic, (value, test) in sorted(_MAX_ERRORS.items()):
        terminalreporter.write_line(f"{topic}: {value:.3e}  ({test})")
