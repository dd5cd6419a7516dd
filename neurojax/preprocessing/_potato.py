"""pyRiemann's Riemannian Potato and Potato Field, same semantics, as Equinox modules.

``Potato`` (Barachant, Andreev & Congedo 2013): fit iterates {Karcher mean of the clean set
(Euclidean initialisation), log distances, mean/std (ddof 0) of the clean set, one-sided removal of
``z ≥ threshold``} until the labels repeat (at most ``n_iter_max = 100``). ``transform`` returns
``z = (log δ(X, M) − μ)/σ``; ``predict`` gives ``pos_label`` where ``z < threshold`` (a float array,
as pyRiemann); ``predict_proba = 1 − Φ(z)``.

``PotatoField`` (Barthélemy et al. 2019): one Potato per channel group / band (``n_iter_max = 10``
here), p-values clipped to ``[1e-10, 1]`` and combined by Fisher's (``χ²`` survival with ``2k``
degrees of freedom of ``−2 Σ log p``) or Stouffer's (``Φ̄(Σ Φ̄⁻¹(p_i)/√k)``) method; clean iff the
combined p-value exceeds ``p_threshold``.

Being Equinox modules, ``fit`` returns a new fitted module (``Potato().fit(X).predict(X)`` works as
with pyRiemann). These mean/std scores are masked by clusters of ≥ 10 % artifacts; prefer
:func:`neurojax.preprocessing.artifact.detect_artifacts_riemann`'s robust default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc, ndtri
from jax.scipy.stats import norm

from ._detect import log_distance, potato_fit
from ._riemann import euclid_mean, geodesic, karcher_mean_info
from ._spd import check_covariances, effective_tol
from ._validate import as_float_array

__all__ = ["Potato", "PotatoField", "combine_pvalues"]


def _check_metric(metric) -> None:
    if isinstance(metric, dict):
        vals = set(metric.values())
        ok = set(metric) <= {"mean", "distance"} and vals <= {"riemann"}
    else:
        ok = metric == "riemann"
    if not ok:
        raise ValueError(f"only the affine-invariant 'riemann' metric is implemented, got {metric!r}")


def _labels_to_clean(y, n: int, pos_label) -> jax.Array:
    if y is None:
        return jnp.ones(n, bool)
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError("y must be the same length of X")
    if len(np.unique(y)) > 2:
        raise ValueError("y must hold at most 2 classes")
    if pos_label not in y:
        raise ValueError("y must contain a positive class")
    return jnp.asarray(y == pos_label)


def _sample_weight(sample_weight, n: int, dtype) -> jax.Array:
    if sample_weight is None:
        return jnp.ones(n, dtype)
    w = as_float_array(sample_weight, "sample_weight").astype(dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    return w


class Potato(eqx.Module):
    """Riemannian Potato (pyRiemann 0.12 ``pyriemann.artifact_detection.Potato`` semantics).

    Fitted fields: ``covmean_`` (reference), ``mean_``/``std_`` (μ, σ of the clean log distances),
    ``n_iter_`` (outer iterations run). ``__call__(X)`` returns the artifact mask (True = artifact).
    """

    covmean_: jax.Array | None = None
    mean_: jax.Array | None = None
    std_: jax.Array | None = None
    n_iter_: jax.Array | None = None
    metric: str | dict = eqx.field(static=True, default="riemann")
    threshold: float = eqx.field(static=True, default=3.0)
    n_iter_max: int = eqx.field(static=True, default=100)
    pos_label: int = eqx.field(static=True, default=1)
    neg_label: int = eqx.field(static=True, default=0)

    def _fitted(self) -> None:
        if self.covmean_ is None:
            raise ValueError("this Potato is not fitted; call .fit(X) first")

    def fit(self, X, y=None, sample_weight=None) -> "Potato":
        """Iterative outlier removal; returns the fitted Potato."""
        if self.pos_label == self.neg_label:
            raise ValueError("Positive and negative labels must be different")
        _check_metric(self.metric)
        covs = check_covariances(X, "X")
        n = covs.shape[0]
        y0 = _labels_to_clean(y, n, self.pos_label)
        sw = _sample_weight(sample_weight, n, covs.dtype)
        st = potato_fit(
            covs,
            sw,
            y0,
            jnp.asarray(self.threshold, covs.dtype),
            n_iter_max=int(self.n_iter_max),
            tol=effective_tol(1e-8, covs.dtype),
            maxiter=50,
        )
        if bool(st["empty"]):
            raise ValueError("Iterative outlier removal has rejected all matrices. Choose a higher threshold.")
        return eqx.tree_at(
            lambda p: (p.covmean_, p.mean_, p.std_, p.n_iter_),
            self,
            (st["mean"], st["mu"], st["sigma"], st["it"]),
            is_leaf=lambda v: v is None,
        )

    def transform(self, X) -> jax.Array:
        """Geometric z-scores ``(log δ(X, covmean_) − mean_) / std_``."""
        self._fitted()
        covs = check_covariances(X, "X")
        if covs.shape[1:] != self.covmean_.shape:
            raise ValueError(f"X has matrices {covs.shape[1:]}, the Potato was fitted on {self.covmean_.shape}")
        return (log_distance(covs, self.covmean_, floor=False) - self.mean_) / self.std_

    def fit_transform(self, X, y=None, sample_weight=None) -> jax.Array:
        return self.fit(X, y, sample_weight).transform(X)

    def predict(self, X) -> jax.Array:
        """``pos_label`` where ``z < threshold`` else ``neg_label`` (float array, as pyRiemann)."""
        z = self.transform(X)
        return jnp.where(z < self.threshold, float(self.pos_label), float(self.neg_label)).astype(z.dtype)

    def predict_proba(self, X) -> jax.Array:
        """Right-tail probability ``1 − Φ(z)`` (high = clean)."""
        return 1.0 - norm.cdf(self.transform(X))

    def __call__(self, X) -> jax.Array:
        """Artifact mask, True where ``z ≥ threshold``."""
        return ~(self.transform(X) < self.threshold)

    def partial_fit(self, X, y=None, *, sample_weight=None, alpha: float = 0.1) -> "Potato":
        """Move the reference towards the mean ``X_m`` of the clean inputs: ``M ← γ(M, X_m, α)``,
        ``μ ← (1−α)μ + α d``, ``σ ← √((1−α)σ² + α (d − μ_new)²)`` with ``d = log δ(X_m, M_new)``."""
        self._fitted()
        covs = check_covariances(X, "X")
        if covs.shape[1:] != self.covmean_.shape:
            raise ValueError(
                f"X does not have the good number of channels. Should be {self.covmean_.shape[0]} "
                f"but got {covs.shape[1]}."
            )
        clean = np.asarray(_labels_to_clean(y, covs.shape[0], self.pos_label))
        sw = _sample_weight(sample_weight, covs.shape[0], covs.dtype)
        if not 0 <= alpha <= 1:
            raise ValueError("Parameter alpha must be in [0, 1]")
        if alpha == 0:
            return self
        xs, ws = covs[clean], sw[clean]
        ws = ws / jnp.sum(ws)
        xm = karcher_mean_info(xs, ws, euclid_mean(xs, ws), effective_tol(1e-8, covs.dtype), 50)[0]
        cm = geodesic(self.covmean_, xm, alpha)
        d = log_distance(xm[None], cm, floor=False)[0]
        mu = (1 - alpha) * self.mean_ + alpha * d
        sd = jnp.sqrt((1 - alpha) * self.std_**2 + alpha * (d - mu) ** 2)
        return eqx.tree_at(lambda p: (p.covmean_, p.mean_, p.std_), self, (cm, mu, sd))


def combine_pvalues(p: jax.Array, method: str = "fisher", axis: int = 0) -> jax.Array:
    """Fisher's or Stouffer's combination of independent p-values along ``axis`` (unit weights),
    equal to ``scipy.stats.combine_pvalues(p, method, axis=axis).pvalue``."""
    k = p.shape[axis]
    if method == "fisher":
        stat = -2.0 * jnp.sum(jnp.log(p), axis=axis)
        return gammaincc(float(k), stat / 2.0)  # χ²_{2k} survival function
    if method == "stouffer":
        z = jnp.sum(-ndtri(p), axis=axis) / jnp.sqrt(float(k))
        return norm.sf(z)
    raise ValueError(f"method_combination must be 'fisher', 'stouffer' or a callable, got {method!r}")


class PotatoField(eqx.Module):
    """Riemannian Potato Field (pyRiemann 0.12 semantics): one :class:`Potato` per set of
    matrices (channel groups or frequency bands), p-values combined across potatoes."""

    potatoes: tuple | None = None
    n_potatoes: int = eqx.field(static=True, default=1)
    p_threshold: float = eqx.field(static=True, default=0.01)
    z_threshold: float = eqx.field(static=True, default=3.0)
    metric: str | dict | list = eqx.field(static=True, default="riemann")
    n_iter_max: int = eqx.field(static=True, default=10)
    pos_label: int = eqx.field(static=True, default=1)
    neg_label: int = eqx.field(static=True, default=0)
    method_combination: str | Callable = eqx.field(static=True, default="fisher")

    def _check_length(self, X: Sequence) -> None:
        if len(X) != self.n_potatoes:
            raise ValueError(f"Length of X is not equal to n_potatoes. Should be {self.n_potatoes} but got {len(X)}.")
        n = np.shape(X[0])[0]
        for x in X:
            if np.shape(x)[0] != n:
                raise ValueError(f"every set must hold the same number of matrices ({n}), got {np.shape(x)[0]}")

    def fit(self, X: Sequence, y=None, sample_weight=None) -> "PotatoField":
        if self.n_potatoes < 1:
            raise ValueError("Parameter n_potatoes must be at least 1")
        if not 0 < self.p_threshold < 1:
            raise ValueError("Parameter p_threshold must be in (0, 1)")
        self._check_length(X)
        metrics = self.metric if isinstance(self.metric, list) else [self.metric] * self.n_potatoes
        if len(metrics) != self.n_potatoes:
            raise ValueError(f"Metric must be a list with {self.n_potatoes} elements.")
        pots = tuple(
            Potato(
                metric=m,
                threshold=self.z_threshold,
                n_iter_max=self.n_iter_max,
                pos_label=self.pos_label,
                neg_label=self.neg_label,
            ).fit(x, y, sample_weight)
            for m, x in zip(metrics, X)
        )
        return eqx.tree_at(lambda f: f.potatoes, self, pots, is_leaf=lambda v: v is None)

    def _pots(self) -> tuple:
        if self.potatoes is None:
            raise ValueError("this PotatoField is not fitted; call .fit(X) first")
        return self.potatoes

    def transform(self, X: Sequence) -> jax.Array:
        """z-scores ``(n_matrices, n_potatoes)``."""
        self._check_length(X)
        return jnp.stack([p.transform(x) for p, x in zip(self._pots(), X)], axis=1)

    def predict_proba(self, X: Sequence) -> jax.Array:
        """Combined p-value of being clean."""
        self._check_length(X)
        probas = jnp.stack([p.predict_proba(x) for p, x in zip(self._pots(), X)], axis=0)
        probas = jnp.clip(probas, 1e-10, 1.0)
        if callable(self.method_combination):
            return self.method_combination(probas, axis=0)
        return combine_pvalues(probas, self.method_combination, axis=0)

    def predict(self, X: Sequence) -> jax.Array:
        p = self.predict_proba(X)
        return jnp.where(p > self.p_threshold, float(self.pos_label), float(self.neg_label)).astype(p.dtype)

    def __call__(self, X: Sequence) -> jax.Array:
        """Artifact mask, True where the combined p-value is ``≤ p_threshold``."""
        return ~(self.predict_proba(X) > self.p_threshold)

    def partial_fit(self, X: Sequence, y=None, *, sample_weight=None, alpha: float = 0.1) -> "PotatoField":
        self._check_length(X)
        pots = tuple(p.partial_fit(x, y, sample_weight=sample_weight, alpha=alpha) for p, x in zip(self._pots(), X))
        return eqx.tree_at(lambda f: f.potatoes, self, pots)
