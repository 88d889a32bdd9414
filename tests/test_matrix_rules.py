"""Muon and Adafactor beyond what torch.optim accepts or checks: the rule for Muon's other parameters (vectors:
AdamW; conv filters: flattened), the parameter-group keys, trial-by-trial matrix work in the population, and
torch's multi-tensor Adafactor. Everything in float64."""

from __future__ import annotations

import pytest
import torch

from cases import clone_params, mlp_data, mlp_loss, mlp_params, rel_error, train
from optimlab import fused, optim
from optimlab.population import Population, Trial
from optimlab.rules import RULES, TRIAL_DIMS, Rule


def test_muon_runs_adamw_on_vectors(float64_default: None) -> None:
    """The MLP's biases under Muon follow optimlab's AdamW with betas (0.9, 0.95), eps 1e-10 and Muon's lr and
    weight decay, bit for bit; the weights follow torch.optim.Muon."""
    start = mlp_params()
    ours, ref = clone_params(start), clone_params(start)
    train(optim.Muon(ours, lr=0.02, weight_decay=0.05), ours, 50)
    muon = torch.optim.Muon([ref[0], ref[2]], lr=0.02, weight_decay=0.05)
    adamw = optim.AdamW([ref[1], ref[3]], lr=0.02, betas=(0.9, 0.95), eps=1e-10, weight_decay=0.05)
    x, y = mlp_data()
    for _ in range(50):
        muon.zero_grad()
        adamw.zero_grad()
        mlp_loss(ref, x, y).backward()
        muon.step()
        adamw.step()
    # (AdamW's bias corrections are tensors in the Muon rule, Python floats in the AdamW class: last-bit rounding)
    assert rel_error(ours, ref) <= 1e-12
    assert rel_error(ours, start) > 1e-2


def test_muon_group_keys_select_adamw_and_its_betas(float64_default: None) -> None:
    """``use_muon=False`` (embeddings, heads) runs AdamW on matrices too; ``adam_beta1/2``, ``adam_eps`` set it."""
    start = mlp_params()
    ours, ref = clone_params(start), clone_params(start)
    group = {"params": ours, "use_muon": False, "adam_beta1": 0.8, "adam_beta2": 0.99, "adam_eps": 1e-8}
    opt = optim.Muon([group], lr=0.01, weight_decay=0.0)
    train(opt, ours, 40)
    train(optim.AdamW(ref, lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.0), ref, 40)
    assert rel_error(ours, ref) <= 1e-13
    assert opt.state_dict()["param_groups"][0]["use_muon"] is False


def test_muon_orthogonalizes_conv_filters_flattened(float64_default: None) -> None:
    """A [out, in, kh, kw] filter is Muon on its [out, in·kh·kw] matrix: torch.optim.Muon on that matrix, fed the
    flattened gradients, takes the same steps bit for bit (the lr scale from the flattened shape)."""
    gen = torch.Generator().manual_seed(2)
    conv = torch.randn(6, 2, 3, 3, generator=gen).requires_grad_()
    flat = conv.detach().reshape(6, -1).clone().requires_grad_()
    ours = optim.Muon([conv], lr=0.02, adjust_lr_fn="match_rms_adamw")
    theirs = torch.optim.Muon([flat], lr=0.02, adjust_lr_fn="match_rms_adamw")
    for _ in range(20):
        g = torch.sin(3 * conv.detach()) + 0.1 * torch.randn(conv.shape, generator=gen)
        conv.grad, flat.grad = g.clone(), g.reshape(6, -1).clone()
        ours.step()
        theirs.step()
    assert torch.equal(conv.detach().reshape(6, -1), flat.detach())


@pytest.mark.parametrize("cls", ["Muon", "Adafactor"])
def test_complex_parameters_are_refused_like_torch(cls: str) -> None:
    z = torch.randn(3, 2, dtype=torch.complex128, requires_grad=True)
    z.grad = torch.ones_like(z)
    with pytest.raises(RuntimeError, match=f"{cls} does not support complex"):
        getattr(optim, cls)([z]).step()
    with pytest.raises(RuntimeError, match="complex"):
        getattr(torch.optim, cls)([z]).step()


def test_adafactor_matches_torchs_multi_tensor_implementation(float64_default: None) -> None:
    """``foreach=True`` selects torch's second implementation; optimlab has one, and it agrees with both."""
    start = mlp_params()
    ours, theirs = clone_params(start), clone_params(start)
    # (lr <= 0.005: at lr = 0.02 torch's two implementations themselves drift apart from last-bit differences to
    # 1e-2 by step 200 on this MLP, where optimlab equals the single-tensor one bit for bit.)
    train(optim.Adafactor(ours, lr=0.005, weight_decay=0.01, foreach=True), ours, 200)
    train(torch.optim.Adafactor(theirs, lr=0.005, weight_decay=0.01, foreach=True), theirs, 200)
    assert rel_error(ours, theirs) <= 1e-10


@pytest.mark.parametrize("name", ["muon", "adafactor"])
def test_population_state_is_each_trials_own(name: str) -> None:
    """In the population a bias [K, n] is a vector (Muon: AdamW; Adafactor: unfactored), a weight [K, m, n] a
    matrix per trial (Muon: a momentum buffer; Adafactor: row and column factors of each trial)."""
    rule = RULES[name]
    hp = {**rule.defaults(), TRIAL_DIMS: 1}
    bias, weight = torch.zeros(4, 5), torch.zeros(4, 3, 5)
    vector, matrix = rule.init_state(bias, hp), rule.init_state(weight, hp)
    if name == "muon":
        assert set(vector) == {"adam_step", "exp_avg", "exp_avg_sq"} and set(matrix) == {"momentum_buffer"}
    else:
        assert set(vector) == {"variance"} and vector["variance"].shape == (4, 5)
        assert matrix["row_var"].shape == (4, 3, 1) and matrix["col_var"].shape == (4, 1, 5)


@pytest.mark.parametrize("name", ["muon", "adafactor"])
def test_one_trials_gradient_never_reaches_another(name: str, float64_default: None) -> None:
    """Scaling trial 0's gradient by 1000 changes trial 0 only: the Frobenius norm (Muon), RMS(θ), RMS(U) and the
    factors' means (Adafactor) are each trial's own."""
    rule = RULES[name]
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(3, 4, 6, generator=gen)
    runs = []
    for boost in (1.0, 1000.0):
        p = start.clone()
        hp = Rule.broadcast({**rule.defaults(), "lr": torch.full((3,), 0.02), TRIAL_DIMS: 1}, p)
        state = rule.init_state(p, hp)
        for t in range(1, 6):
            g = torch.cos(p) + 0.1
            g[0] *= boost
            rule.update(p, g, state, hp, t)
        runs.append(p)
    assert torch.equal(runs[0][1:], runs[1][1:])
    assert not torch.equal(runs[0][0], runs[1][0])


@pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")
def test_population_fused_update_equals_the_loop(float64_default: None) -> None:
    """The compiled population update (Newton–Schulz as an opaque operator) equals the per-tensor loop."""
    trials = [Trial("muon", {"lr": 0.02}), Trial("adafactor", {"lr": 0.01}), Trial("muon", {"lr": 0.05})]
    gen = torch.Generator().manual_seed(5)
    start = [torch.randn(3, 4, 6, generator=gen), torch.randn(3, 5, generator=gen)]
    target = [torch.randn_like(t) for t in start]
    runs = []
    for mode in (True, False):
        params = [t.clone() for t in start]
        pop = Population(trials, params, fused=mode)
        for _ in range(5):
            pop.step([p - t + 0.3 * p**3 for p, t in zip(params, target, strict=True)])
        runs.append(params)
    assert rel_error(runs[0], runs[1]) <= 1e-12
    assert rel_error(runs[1], start) > 1e-3


def test_population_conv_filters_equal_single_runs(float64_default: None) -> None:
    """Trials' conv filters p[K, out, in, kh, kw] with per-trial lr and momentum: each trial's flattened matrix is
    orthogonalized on its own, bit for bit as the same filter alone (bfloat16 Newton–Schulz, batched)."""
    rule = RULES["muon"]
    gen = torch.Generator().manual_seed(4)
    start = torch.randn(3, 4, 2, 3, 3, generator=gen)
    lrs, momenta = [0.01, 0.02, 0.05], [0.9, 0.95, 0.5]
    pop = start.clone()
    hp = Rule.broadcast({**rule.defaults(), "lr": torch.tensor(lrs), "momentum": torch.tensor(momenta),
                         "eps": torch.full((3,), 1e-7), TRIAL_DIMS: 1}, pop)
    state = rule.init_state(pop, hp)
    singles = [start[k].clone() for k in range(3)]
    single_hp = [{**rule.defaults(), "lr": lrs[k], "momentum": momenta[k]} for k in range(3)]
    single_states = [rule.init_state(singles[k], single_hp[k]) for k in range(3)]
    for t in range(1, 8):
        rule.update(pop, torch.sin(2 * pop) + 0.1, state, hp, t)
        for k in range(3):
            rule.update(singles[k], torch.sin(2 * singles[k]) + 0.1, single_states[k], single_hp[k], t)
    for k in range(3):
        assert rel_error([pop[k]], [singles[k]]) <= 1e-12
    assert rel_error([pop], [start]) > 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_muon_with_its_adamw_part_resumes_bit_identically(dtype: torch.dtype) -> None:
    """The whole MLP under Muon (weights: Newton–Schulz; biases: AdamW with its own step count), saved through
    torch.save/torch.load(weights_only=True) after 10 steps and resumed for 10: the same as 20 straight."""
    import io

    start = mlp_params(dtype=dtype)
    data = mlp_data(dtype=dtype)
    straight, resumed = clone_params(start), clone_params(start)
    train(optim.Muon(straight, lr=0.02), straight, 20, data)
    opt = optim.Muon(resumed, lr=0.02)
    train(opt, resumed, 10, data)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    fresh = clone_params(resumed)
    opt = optim.Muon(fresh, lr=0.02)
    opt.load_state_dict(torch.load(buffer, weights_only=True))
    assert opt.state[fresh[1]]["adam_step"].item() == 10
    train(opt, fresh, 10, data)
    for a, b in zip(fresh, straight, strict=True):
        assert torch.equal(a, b)
