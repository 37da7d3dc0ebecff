"""Covariance estimates: hand-checked small cases, PSD, shapes and shrinkage bounds (no database)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baskets.engine.errors import InsufficientHistory
from baskets.engine.risk import (
    CovarianceModel,
    estimate_covariance,
    ledoit_wolf_constant_correlation,
    ledoit_wolf_identity,
    pca_factor_model,
    sample_covariance,
    usable_returns,
)

# Two assets, four days, already demeaned: x1 = (2, -2, 0, 0), x2 = (1, -1, 1, -1)
TWO_ASSETS = pd.DataFrame({"A": [2.0, -2.0, 0.0, 0.0], "B": [1.0, -1.0, 1.0, -1.0]})


def _random_returns(days=60, names=30, seed=0, factors=2):
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, (days, factors))
    beta = rng.uniform(0.5, 1.5, (factors, names))
    noise = rng.normal(0, 0.01, (days, names))
    return pd.DataFrame(market @ beta + noise, columns=[f"N{i:03d}" for i in range(names)])


def test_sample_covariance_two_assets_by_hand():
    # S = X'X / T: s11 = (4+4)/4 = 2, s22 = 4/4 = 1, s12 = (2+2)/4 = 1
    model = sample_covariance(TWO_ASSETS)
    assert model.dense().to_numpy() == pytest.approx(np.array([[2.0, 1.0], [1.0, 1.0]]))


def test_ledoit_wolf_identity_two_assets_by_hand():
    # S = [[2, 1], [1, 1]]; mu = tr(S)/2 = 1.5
    # d2 = |S - mu I|^2 / p = (.25 + 1 + 1 + .25) / 2 = 1.25
    # x_t x_t' - S: t=1,2: x=(+-2,+-1) -> [[2,1],[1,0]], |.|^2 = 6; t=3,4: x=(0,+-1) -> [[-2,-1],[-1,0]], 6
    # b2 = (6*4) / T^2 / p = 24 / 16 / 2 = .75 <= d2; delta = .75 / 1.25 = .6
    # Sigma = .6 * 1.5 I + .4 S = [[.9 + .8, .4], [.4, .9 + .4]] = [[1.7, .4], [.4, 1.3]]
    model = ledoit_wolf_identity(TWO_ASSETS)
    assert model.shrinkage == pytest.approx(0.6)
    assert model.dense().to_numpy() == pytest.approx(np.array([[1.7, 0.4], [0.4, 1.3]]))


def test_ledoit_wolf_identity_demeans_first():
    shifted = TWO_ASSETS + 0.05
    assert ledoit_wolf_identity(shifted).dense().to_numpy() == pytest.approx(np.array([[1.7, 0.4], [0.4, 1.3]]))


def test_constant_correlation_with_two_assets_is_the_sample():
    # with two names the average correlation is their correlation: the target equals S, gamma = 0
    model = ledoit_wolf_constant_correlation(TWO_ASSETS)
    assert model.shrinkage == 0.0
    assert model.dense().to_numpy() == pytest.approx(np.array([[2.0, 1.0], [1.0, 1.0]]))


def _reference_lw_cc(x: np.ndarray):
    """Element-by-element transcription of Ledoit & Wolf (2003), for comparison."""
    x = x - x.mean(axis=0)
    t, n = x.shape
    s = x.T @ x / t
    sd = np.sqrt(np.diag(s))
    r = s / np.outer(sd, sd)
    rbar = sum(r[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    f = np.array([[s[i, i] if i == j else rbar * sd[i] * sd[j] for j in range(n)] for i in range(n)])
    pi = np.array([[np.mean((x[:, i] * x[:, j] - s[i, j]) ** 2) for j in range(n)] for i in range(n)])
    theta_ii_ij = lambda i, j: np.mean((x[:, i] ** 2 - s[i, i]) * (x[:, i] * x[:, j] - s[i, j]))  # noqa: E731
    rho = np.trace(pi) + sum(
        rbar / 2 * (np.sqrt(s[j, j] / s[i, i]) * theta_ii_ij(i, j) + np.sqrt(s[i, i] / s[j, j]) * theta_ii_ij(j, i))
        for i in range(n)
        for j in range(n)
        if i != j
    )
    gamma = np.sum((f - s) ** 2)
    delta = max(0.0, min(1.0, (pi.sum() - rho) / gamma / t))
    return delta, delta * f + (1 - delta) * s


def test_constant_correlation_matches_the_papers_formulas():
    returns = _random_returns(days=40, names=6, seed=3)
    expected_delta, expected = _reference_lw_cc(returns.to_numpy())
    model = ledoit_wolf_constant_correlation(returns)
    assert model.shrinkage == pytest.approx(expected_delta, rel=1e-9)
    assert model.dense().to_numpy() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("method", ["lw_cc", "lw_identity", "pca", "sample"])
def test_every_model_is_symmetric_psd_with_the_right_shape(method):
    returns = _random_returns(days=60, names=80)  # more names than days: S is singular
    model = estimate_covariance(returns, method)
    dense = model.dense()
    assert dense.shape == (80, 80)
    assert list(dense.index) == list(returns.columns)
    assert np.allclose(dense.to_numpy(), dense.to_numpy().T)
    eigenvalues = np.linalg.eigvalsh(dense.to_numpy())
    assert eigenvalues.min() >= -1e-12
    if method != "sample":
        # the point of the exercise: well-conditioned (positive definite) although T < n
        assert eigenvalues.min() > 0
        assert eigenvalues.max() / eigenvalues.min() < 1e6


@settings(max_examples=25, deadline=None)
@given(st.integers(5, 60), st.integers(2, 25), st.integers(0, 10_000))
def test_shrinkage_intensity_is_between_zero_and_one(days, names, seed):
    returns = _random_returns(days=days, names=names, seed=seed)
    for model in (ledoit_wolf_identity(returns), ledoit_wolf_constant_correlation(returns)):
        assert 0.0 <= model.shrinkage <= 1.0
        assert np.linalg.eigvalsh(model.dense().to_numpy()).min() >= -1e-12


def test_shrinkage_fades_with_more_history():
    short = ledoit_wolf_constant_correlation(_random_returns(days=30, names=20, seed=5)).shrinkage
    long = ledoit_wolf_constant_correlation(_random_returns(days=3000, names=20, seed=5)).shrinkage
    assert long < short


def test_pca_factor_model_recovers_a_one_factor_structure():
    # given: r = beta * f + e, var(f) = 1e-4, var(e) = 2.5e-5 -> cov = 1e-4 beta beta' + 2.5e-5 I
    # (PCA's top eigenvalue also carries var(e) along the factor direction: a bias of about
    # 2.5e-5 / 10 per element, inside the tolerance)
    rng = np.random.default_rng(11)
    beta = np.linspace(0.5, 1.5, 10)
    f = rng.normal(0, 0.01, 20_000)
    e = rng.normal(0, 0.005, (20_000, 10))
    returns = pd.DataFrame(f[:, None] * beta + e)
    # when
    model = pca_factor_model(returns, n_factors=1)
    # then
    expected = 1e-4 * np.outer(beta, beta) + 2.5e-5 * np.eye(10)
    assert model.dense().to_numpy() == pytest.approx(expected, abs=8e-6)
    assert model.n_factors == 1
    assert np.all(model.specific > 0)


def test_pca_specific_risk_is_floored():
    returns = _random_returns(days=30, names=10)
    model = pca_factor_model(returns, n_factors=29, specific_floor=0.05)
    assert np.all(model.specific >= 0.05 * model.variances().to_numpy() * 0.95 - 1e-15)


def test_quadratic_form_and_subset_agree_with_the_dense_matrix():
    returns = _random_returns(days=50, names=12)
    model = ledoit_wolf_constant_correlation(returns)
    w = pd.Series(np.linspace(-0.1, 0.1, 12), index=returns.columns)
    dense = model.dense().to_numpy()
    assert model.quadratic_form(w) == pytest.approx(w.to_numpy() @ dense @ w.to_numpy())
    part = model.subset(returns.columns[[3, 1, 7]])
    assert part.dense().to_numpy() == pytest.approx(dense[np.ix_([3, 1, 7], [3, 1, 7])])
    with pytest.raises(KeyError):
        model.quadratic_form(pd.Series({"NOPE": 1.0}))


def test_from_dense_roundtrip():
    cov = pd.DataFrame([[2.0, 1.0], [1.0, 1.0]], index=["A", "B"], columns=["A", "B"])
    assert CovarianceModel.from_dense(cov).dense().to_numpy() == pytest.approx(cov.to_numpy())


def test_missing_returns_are_tolerated_but_short_histories_are_named():
    returns = _random_returns(days=40, names=4)
    returns.iloc[:10, 0] = np.nan
    model = ledoit_wolf_constant_correlation(returns)
    assert np.isfinite(model.dense().to_numpy()).all()
    kept, dropped = usable_returns(returns, min_observations=35)
    assert dropped == ["N000"] and list(kept.columns) == ["N001", "N002", "N003"]
    returns.iloc[:39, 1] = np.nan
    with pytest.raises(InsufficientHistory, match="N001"):
        ledoit_wolf_identity(returns)


def test_constant_series_has_no_variance():
    returns = _random_returns(days=40, names=3)
    returns["FLAT"] = 0.0
    with pytest.raises(InsufficientHistory, match="FLAT"):
        ledoit_wolf_constant_correlation(returns)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown risk model"):
        estimate_covariance(TWO_ASSETS, "magic")
