"""The advisor's held-out suite: the fixed development/test split and the answer keys' fingerprints."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from optimlab.problems.suite import SECOND_ROUND, SEEN_BEFORE, SUITE, build, split_of

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import advise_keys  # noqa: E402

SPLIT = {
    "sparse-logreg": "dev", "mnist1d-mlp": "dev", "digits-cnn": "dev", "digits-autoencoder": "dev",
    "mnist1d-cnn": "dev", "char-transformer": "dev",
    "noisy-quadratic": "test", "deep-narrow-tanh": "test", "deep-narrow-relu": "test", "noisy-regression": "test",
    "hetero-regression": "test", "digits-batchnorm-cnn": "test", "char-gru": "test",
    # second round (the flat-scan rule): named and defined before anything was computed on them
    "deep-narrow-sigmoid": "dev", "deep-thin-tanh": "dev",
    "deep-narrow-tanh-mnist1d": "test", "digits-mlp": "test", "friedman-regression": "test",
}
"""The split as it was fixed before any answer key was computed: a change to the rule or to a name shows here."""


def test_the_split_is_fixed_and_follows_its_rule() -> None:
    assert {name: split_of(name) for name in SUITE} == SPLIT
    assert len(SUITE) >= 10 and sum(v == "test" for v in SPLIT.values()) >= 5
    for name in SUITE:
        digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
        assert split_of(name) == ("dev" if name in SEEN_BEFORE or digest % 3 == 0 else "test")
    assert all(split_of(name) == "dev" for name in SEEN_BEFORE)  # what earlier rules saw is never a test
    assert set(SECOND_ROUND) <= set(SUITE) and sum(SPLIT[n] == "test" for n in SECOND_ROUND) >= 3


def test_every_suite_problem_builds_with_its_own_name() -> None:
    for name in ("noisy-regression", "deep-narrow-tanh", "char-gru", "deep-narrow-sigmoid", "digits-mlp",
                 "friedman-regression"):
        problem, steps = build(name)
        assert problem.name == name and steps >= 100
        assert problem.init_params(0).keys() == problem.init_params(1).keys()
    with pytest.raises(Exception, match="suite problem"):
        build("no-such-problem")


def _key_of(problem: Any, steps: int, candidates: tuple[str, ...]) -> dict[str, Any]:
    return {"fingerprint": advise_keys.fingerprint(problem, steps, candidates),
            "signature": advise_keys.signature(problem), "candidates": list(candidates)}


def test_a_key_fingerprint_detects_a_changed_problem() -> None:
    problem, steps = build("noisy-regression")
    candidates = ("adam", "sgd")
    key = _key_of(problem, steps, candidates)
    assert advise_keys.key_matches(key, build("noisy-regression")[0], steps)  # deterministic
    assert not advise_keys.key_matches(key, problem, steps + 1)  # run length
    assert advise_keys.fingerprint(problem, steps, ("adam", "momentum")) != key["fingerprint"]  # candidates
    data = problem.data.train
    data.targets[0] += 1e-3  # one training target moved in its fourth digit
    assert not advise_keys.key_matches(key, problem, steps)
    data.targets[0] -= 1e-3
    assert advise_keys.key_matches(key, problem, steps)
    with torch.no_grad():
        data.inputs.copy_(data.inputs.flip(0))  # the same values in another order
    assert not advise_keys.key_matches(key, problem, steps)


def test_a_key_survives_last_bit_rounding() -> None:
    """Every float value of the data and initial weights a few ulp off (as another CPU's ``exp`` or ``randn``
    rounds them) is the same problem; the integer labels must match exactly."""
    problem, steps = build("digits-mlp")
    key = _key_of(problem, steps, ("adam",))
    with torch.no_grad():
        for split in (problem.data.train, problem.data.valid, problem.data.test):
            split.inputs.mul_(1 + 3 * 2.0**-23)
    assert advise_keys.key_matches(key, problem, steps)
    problem.data.valid.targets[0] = (problem.data.valid.targets[0] + 1) % 10
    assert not advise_keys.key_matches(key, problem, steps)


def test_a_stale_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problem, steps = build("noisy-regression")
    monkeypatch.setattr(advise_keys, "KEY_DIR", tmp_path)
    key = _key_of(problem, steps, ("adam",))
    advise_keys.key_path("noisy-regression").write_text(json.dumps(key))
    assert advise_keys.load_key("noisy-regression", problem, steps) == key
    with torch.no_grad():
        problem.data.valid.inputs[0, 0] += 1.0
    assert advise_keys.load_key("noisy-regression", problem, steps) is None
    assert advise_keys.load_key("missing", problem, steps) is None


def test_saved_keys_match_their_problems() -> None:
    """Every key in the repository was made from the problem as it is now (else: re-make it, see advise_keys)."""
    saved = sorted(advise_keys.KEY_DIR.glob("*.json"))
    assert saved, "no answer keys saved"
    for path in saved:
        key = json.loads(path.read_text())
        problem, steps = build(key["problem"])
        assert key["fingerprint"] == advise_keys.fingerprint(problem, steps, tuple(key["candidates"])), path.name
        assert advise_keys.signature_matches(key["signature"], problem), path.name
        assert key["split"] == split_of(key["problem"])
        lrs = key["lrs"]
        for c, best in key["per_candidate"].items():  # no best rate sits on an edge of its grid (or at a limit)
            assert min(lrs[c]) < best["lr"] < max(lrs[c]) or best["lr"] in (advise_keys.lr_of(e)
                                                                             for e in advise_keys.EDGE_LIMITS), c
