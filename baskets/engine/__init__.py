"""The Substitute Basket engine: a pure numeric package (numpy, pandas, scipy, clarabel; never Django).

- ``metrics``: Basket Overlap, Active Share Differential, proxy spread, Tracking Error and the other
  Substitute Basket Metrics, exactly as the exemptive application defines them;
- ``risk``: well-conditioned covariance estimates (Ledoit-Wolf shrinkage, PCA factor model);
- ``optimizer``: the tracking-variance QP that builds the Substitute Basket weights;
- ``quantities``: weights to whole-share quantities per Creation Unit and the estimated Cash Amount;
- ``errors``: the engine's named errors.

Weights are pandas Series indexed by security identifier (ticker or id); cash is a separate float.
"""
