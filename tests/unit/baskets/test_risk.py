"""Covariance estimates: hand-checked small cases, PSD, shapes and shrinkage bounds (no database)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from baskets.engine.errors import InsufficientHistory
from baskets.engine.risk import (
    METHODS,
    CovarianceModel,
    estimate_covariance,
    exponential_weights,
    group_labels,
    hybrid_factor_model,
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


@pytest.mark.parametrize("method", METHODS)
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


# --- the hybrid model (two horizons of statistical factors + industry blocks) ----------------------


def test_exponential_weights_by_hand():
    # half-life 1 day: raw weights .25, .5, 1 (newest last), total 1.75
    assert exponential_weights(3, 1.0) == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    assert exponential_weights(4, None) == pytest.approx([0.25] * 4)
    # half-life 10: the row 10 days before the newest weighs half as much
    w = exponential_weights(50, 10.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[-11] / w[-1] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        exponential_weights(3, -1.0)


def test_group_labels_take_the_finest_level_with_enough_members():
    # given: sector for all; industry X has two members, Y one (too small), E none
    groups = pd.DataFrame(
        {"sector": ["Tech", "Tech", "Tech", "Energy", None], "industry": ["X", "X", "Y", np.nan, "Z"]},
        index=["A", "B", "C", "D", "E"],
    )
    # when
    labels = group_labels(groups, ["A", "B", "C", "D", "E", "F"], min_size=2)
    # then: A, B by industry; C falls back to its sector, but Tech has 3 members so it stays; D's
    # sector Energy has one member and E has only a singleton industry; F is not in the table
    assert labels["A"] == labels["B"] == "1:X"
    assert labels["C"] == "0:Tech"
    assert labels[["D", "E", "F"]].isna().all()


def test_group_labels_from_a_series_and_none():
    labels = group_labels(pd.Series({"A": "s1", "B": "s1", "C": "s2"}), ["A", "B", "C"])
    assert list(labels[["A", "B"]]) == ["0:s1", "0:s1"] and pd.isna(labels["C"])
    assert group_labels(None, ["A", "B"]).isna().all()


def test_hybrid_industry_block_by_hand():
    # given: no statistical factors, one group {A, B}, plain specific risk, no floor
    # x_A = (2, -2, 0, 0), x_B = (1, -1, 1, -1): s_A^2 = 8/4 = 2, s_B^2 = 4/4 = 1, cov = 4/4 = 1
    # rho = 1 / sqrt(2 * 1) = 1/sqrt(2); loadings sqrt(rho) * (sqrt(2), 1); specific (1 - rho) * (2, 1)
    # S = rho * [[2, sqrt 2], [sqrt 2, 1]] + (1 - rho) diag(2, 1) = [[2, 1], [1, 1]]: with two names
    # the block reproduces the sample covariance exactly
    rho = 1 / np.sqrt(2)
    model = hybrid_factor_model(
        TWO_ASSETS, pd.Series({"A": "g", "B": "g"}), fast_factors=0, slow_factors=0, specific_blend=0.0, specific_floor=0.0
    )
    assert model.method == "hybrid"
    assert model.n_factors == 1 and model.details["industry_factors"] == 1
    assert model.loadings[:, 0] == pytest.approx([np.sqrt(rho * 2), np.sqrt(rho)])
    assert model.specific == pytest.approx([(1 - rho) * 2, 1 - rho])
    assert model.dense().to_numpy() == pytest.approx(np.array([[2.0, 1.0], [1.0, 1.0]]))


def test_hybrid_industry_block_uses_the_average_correlation():
    # given: three names with residual correlations .5, .2, -.1 (built exactly from an orthonormal basis)
    # x_A = e1, x_B = .5 e1 + sqrt(.75) e2, x_C = c1 e1 + c2 e2 + c3 e3 with unit norms
    basis = np.linalg.qr(np.random.default_rng(1).normal(size=(50, 3)) - 0)[0]
    basis -= basis.mean(axis=0)  # demeaned columns stay linearly independent
    basis = np.linalg.qr(basis)[0]
    c1 = 0.2
    c2 = (-0.1 - 0.5 * c1) / np.sqrt(0.75)
    c3 = np.sqrt(1 - c1**2 - c2**2)
    x = np.column_stack([basis[:, 0], 0.5 * basis[:, 0] + np.sqrt(0.75) * basis[:, 1], basis @ [c1, c2, c3]])
    returns = pd.DataFrame(x - x.mean(axis=0), columns=list("ABC"))
    # when
    model = hybrid_factor_model(returns, pd.Series("g", index=list("ABC")), fast_factors=0, slow_factors=0,
                                specific_blend=0.0, specific_floor=0.0)
    # then: rho = (.5 + .2 - .1) / 3 = .2, every off-diagonal correlation of the model is .2
    dense = model.dense().to_numpy()
    sd = np.sqrt(np.diag(dense))
    corr = dense / np.outer(sd, sd)
    assert corr[np.triu_indices(3, 1)] == pytest.approx([0.2, 0.2, 0.2], abs=1e-9)
    assert np.diag(dense) == pytest.approx(np.sum(returns.to_numpy() ** 2, axis=0) / 50)


def test_hybrid_without_groups_is_a_two_horizon_pca():
    returns = _random_returns(days=300, names=40, factors=3)
    model = hybrid_factor_model(returns, fast_factors=3, slow_factors=5)
    assert model.details["industry_factors"] == 0
    assert model.n_factors == 8
    assert estimate_covariance(returns, "hybrid", fast_factors=3, slow_factors=5).dense().equals(model.dense())


@settings(max_examples=20, deadline=None)
@given(st.integers(30, 120), st.integers(3, 40), st.integers(0, 3), st.integers(0, 8), st.integers(0, 10_000))
def test_hybrid_with_flat_weights_keeps_every_sample_variance(days, names, fast, slow, seed):
    assume(fast + slow <= names - 2)  # leave every name some residual
    # every step splits a name's return into orthogonal parts, so with equal weights, one horizon
    # and plain specific risk the model's variances are the sample variances (X'X / T), whatever
    # the factor counts and the groups
    returns = _random_returns(days=days, names=names, seed=seed)
    groups = pd.Series([f"g{i % 4}" for i in range(names)], index=returns.columns)
    model = hybrid_factor_model(
        returns, groups, fast_factors=fast, fast_halflife=None, fast_days=days, slow_factors=slow,
        specific_halflife=None, specific_blend=0.0, specific_floor=0.0,
    )
    sample = sample_covariance(returns).variances()
    assert model.variances().to_numpy() == pytest.approx(sample.to_numpy(), rel=1e-9)
    assert np.linalg.eigvalsh(model.dense().to_numpy()).min() >= -1e-15


def test_hybrid_industry_columns_have_one_name_each_and_keep_the_qp_sparse():
    returns = _random_returns(days=200, names=30)
    shocks = np.random.default_rng(2).normal(0, 0.01, (200, 6))
    returns += np.repeat(shocks, 5, axis=1)  # six industries of five names
    groups = pd.DataFrame({"sector": ["s"] * 30, "industry": [f"i{i // 5}" for i in range(30)]}, index=returns.columns)
    model = hybrid_factor_model(returns, groups, fast_factors=1, slow_factors=1)
    industry = model.loadings[:, 2:]
    assert industry.shape[1] == 6 == model.details["industry_factors"]
    assert np.all((industry != 0).sum(axis=1) == 1)  # each name loads on its own industry only
    assert model.details["grouped_names"] == 30


def test_hybrid_finds_an_industry_the_statistical_factors_miss():
    # given: a market factor for all, and a small industry (5 of 60 names) with its own common shock
    rng = np.random.default_rng(4)
    days, names = 600, 60
    market = rng.normal(0, 0.01, days)
    shock = rng.normal(0, 0.006, days)
    data = market[:, None] * rng.uniform(0.8, 1.2, names) + rng.normal(0, 0.01, (days, names))
    data[:, :5] += shock[:, None]
    returns = pd.DataFrame(data, columns=[f"N{i:02d}" for i in range(names)])
    groups = pd.Series(["ind"] * 5 + [f"other{i}" for i in range(55)], index=returns.columns)  # singletons: no block
    # when: one statistical factor only, with and without the labels
    plain = hybrid_factor_model(returns, fast_factors=0, slow_factors=1).dense().to_numpy()
    labelled = hybrid_factor_model(returns, groups, fast_factors=0, slow_factors=1).dense().to_numpy()
    # then: the industry covariance (3.6e-5 on top of the market's 1e-4) appears only with the labels
    inside = np.mean([labelled[i, j] - plain[i, j] for i in range(5) for j in range(5) if i != j])
    outside = np.abs(labelled[5:, 5:] - plain[5:, 5:]).max()
    assert inside == pytest.approx(3.6e-5, rel=0.25)
    assert outside == 0.0
    assert np.diag(labelled) == pytest.approx(np.diag(plain))  # variance moved from specific to the block


def test_hybrid_fast_factors_follow_the_recent_regime():
    # given: 20 independent names for 700 days, then A and B co-move for the last 40
    rng = np.random.default_rng(8)
    data = rng.normal(0, 0.01, (740, 20))
    data[-40:, 1] = data[-40:, 0] + rng.normal(0, 0.001, 40)
    returns = pd.DataFrame(data, columns=["A", "B"] + [f"N{i}" for i in range(18)])
    # when
    flat = hybrid_factor_model(returns, fast_factors=0, slow_factors=2).dense().to_numpy()
    fast = hybrid_factor_model(returns, fast_factors=2, slow_factors=0).dense().to_numpy()
    corr = lambda m: m[0, 1] / np.sqrt(m[0, 0] * m[1, 1])  # noqa: E731
    # then: the equally weighted factors barely see the co-movement, the fast ones do
    assert corr(flat) < 0.2
    assert corr(fast) > 0.4  # the specific risk blends recent and long-run residuals, diluting it


def test_hybrid_tolerates_short_histories_and_tiny_universes():
    returns = _random_returns(days=300, names=6)
    returns.iloc[:200, 0] = np.nan  # a recent listing: 100 returns
    model = hybrid_factor_model(returns, pd.Series("g", index=returns.columns))
    dense = model.dense().to_numpy()
    assert np.isfinite(dense).all() and np.linalg.eigvalsh(dense).min() > 0
    assert model.details["fast_factors"] + model.details["slow_factors"] <= 5
    one = hybrid_factor_model(returns.iloc[:, [1]])
    assert one.n_assets == 1 and one.variances().iloc[0] > 0


def test_other_methods_ignore_groups():
    returns = _random_returns(days=60, names=10)
    groups = pd.Series("g", index=returns.columns)
    assert estimate_covariance(returns, "pca", groups=groups).dense().equals(estimate_covariance(returns, "pca").dense())


def test_the_optimiser_passes_its_groups_to_the_hybrid_model():
    from baskets.engine.optimizer import BasketParams, build_substitute_basket

    returns = _random_returns(days=300, names=40, factors=3)
    wp = pd.Series(1 / 20, index=returns.columns[:20])
    groups = pd.Series([f"g{i % 5}" for i in range(40)], index=returns.columns)
    result = build_substitute_basket(wp, list(returns.columns[:2]), returns, BasketParams(risk_groups=groups))
    assert result.diagnostics.risk_model == "hybrid"
    assert 0.05 <= result.diagnostics.active_share <= 0.30
    assert BasketParams().risk_model == "hybrid"
