"""Riemannian artifact detection on epoch covariance matrices.

Pipeline: a continuous recording ``(n_channels, n_times)`` is cut into fixed-length epochs
(:func:`make_epochs`), each epoch becomes an SPD covariance matrix (:func:`covariances`, with the
``"oas"``/``"lwf"`` shrinkage estimators for short or rank-deficient epochs), and every matrix is
scored by its affine-invariant Riemannian distance to a reference (Karcher) mean of the clean
matrices:

    δ(A, B) = ‖log(B^{-1/2} A B^{-1/2})‖_F = √(Σ_i log² λ_i(A, B)).

The distance is invariant to any congruence ``A ↦ W A Wᵀ``: to the data's units, to re-referencing
with an invertible matrix, to channel gains. Scores are robust z-scores of the log distances,
``z_i = (log δ_i − median) / (1.4826 · MAD)``; an epoch is an artifact when ``z_i ≥ n_std``.

Why not mean/std (pyRiemann's Potato)? If a fraction ε of the epochs are similar artifacts, the
mean and the standard deviation include them and every artifact scores exactly ``√((1 − ε)/ε)``,
whatever its amplitude: 3.0 at ε = 10 %, 2.0 at 20 %, 1.5 at 30 %, so ``z ≥ 3`` flags none of them.
The median/MAD breaks down only at 50 %. :class:`Potato` and :class:`PotatoField` are provided with
pyRiemann's exact semantics for comparison (``method="potato"``).

Public API: :func:`make_epochs`, :func:`covariances`, :func:`epoch_covariances`,
:func:`distance_riemann`, :func:`mean_riemann`, :func:`geodesic_riemann`,
:func:`riemann_zscores`, :func:`detect_artifacts_riemann`, :class:`RiemannDetector`,
:class:`Potato`, :class:`PotatoField`.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._covariance import ESTIMATORS, covariance_matrices, fixed_length_epochs
from ._detect import log_distance, robust_center_scale, robust_fit
from ._potato import Potato, PotatoField
from ._riemann import distance_squared, euclid_mean, geodesic, karcher_mean, karcher_mean_info, safe_sqrt
from ._spd import check_covariances, check_spd, effective_tol
from ._validate import as_float_array, check_finite, check_ndim, check_sfreq, is_traced

__all__ = [
    "make_epochs",
    "covariances",
    "epoch_covariances",
    "distance_riemann",
    "mean_riemann",
    "geodesic_riemann",
    "riemann_zscores",
    "detect_artifacts_riemann",
    "detect_artifacts_riemann_field",
    "RiemannScores",
    "RiemannDetector",
    "Potato",
    "PotatoField",
]


# --------------------------------------------------------------------------- epochs, covariances


def make_epochs(
    data: Float[Array, "... c t"], sfreq: float, epoch_duration: float, *, overlap: float = 0.0
) -> Float[Array, "... e c w"]:
    """Cut a continuous recording into fixed-length epochs.

    Arguments:
        data: ``(..., n_channels, n_times)``.
        sfreq: sampling frequency in Hz.
        epoch_duration: epoch length in seconds (rounded to whole samples, at least 2).
        overlap: seconds shared by consecutive epochs, in ``[0, epoch_duration)``.

    Returns:
        ``(..., n_epochs, n_channels, n_samples)`` with ``n_epochs = (n_times − n_samples) // step + 1``
        (a trailing partial epoch is dropped).
    """
    x = as_float_array(data)
    check_ndim(x, 2)
    sfreq = check_sfreq(sfreq)
    window = int(round(float(epoch_duration) * sfreq))
    step = window - int(round(float(overlap) * sfreq))
    if not 0.0 <= overlap < epoch_duration:
        raise ValueError(f"overlap must be in [0, epoch_duration={epoch_duration}), got {overlap}")
    return fixed_length_epochs(x, window, step)


def covariances(epochs: Float[Array, "... c t"], estimator: str = "scm") -> Float[Array, "... c c"]:
    """Covariance matrix of each epoch.

    Arguments:
        epochs: ``(..., n_channels, n_times)``; each epoch is centred channel-wise.
        estimator: ``"scm"`` (1/T, pyRiemann's ``Covariances()`` default), ``"cov"`` (1/(T − 1),
            ``numpy.cov``, the default of pyRiemann's *function* ``covariances``), ``"oas"`` or
            ``"lwf"`` (scikit-learn's ``oas``/``ledoit_wolf`` shrinkage, recommended for short
            epochs, float32 and average-referenced data).

    Returns:
        ``(..., n_channels, n_channels)`` symmetric matrices, the input's dtype.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown covariance estimator {estimator!r}; choose one of {ESTIMATORS}")
    x = check_finite(as_float_array(epochs, "epochs"), "epochs")
    check_ndim(x, 2, "epochs")
    if x.shape[-1] < 2:
        raise ValueError(f"epochs need at least 2 time samples, got {x.shape[-1]}")
    return covariance_matrices(x, estimator)


def epoch_covariances(
    data: Float[Array, "... c t"],
    sfreq: float,
    epoch_duration: float = 2.0,
    *,
    estimator: str = "oas",
    overlap: float = 0.0,
) -> Float[Array, "... e c c"]:
    """:func:`make_epochs` followed by :func:`covariances` (default OAS shrinkage)."""
    return covariances(make_epochs(data, sfreq, epoch_duration, overlap=overlap), estimator)


# --------------------------------------------------------------------------- geometry


def distance_riemann(a: Float[Array, "... n n"], b: Float[Array, "... n n"], squared: bool = False) -> Float[Array, "..."]:
    """Affine-invariant Riemannian distance ``δ(A, B) = √(Σ log² λ_i)``, λ the eigenvalues of the
    pencil (A, B), computed through the Cholesky factor of ``B``.

    Arguments:
        a: SPD matrices ``(..., n, n)``.
        b: one SPD reference ``(n, n)`` (broadcast against every matrix of ``a``) or matrices of
            the same shape as ``a`` (pairwise distances).
        squared: return ``δ²`` (smooth everywhere) instead of ``δ``.

    Returns:
        ``(...,)`` distances. Gradients are finite, including at repeated eigenvalues; the gradient
        of ``δ`` at ``A = B`` is taken as 0.
    """
    a = check_spd(a, "a")
    b = check_spd(b, "b")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a and b must have the same matrix size, got {a.shape[-1]} and {b.shape[-1]}")
    if b.ndim == 2:
        d2 = distance_squared(a, b)
    else:
        if a.shape != b.shape:
            raise ValueError(f"a {a.shape} and b {b.shape}: give one (n, n) reference or matching shapes")
        fn = distance_squared
        for _ in range(a.ndim - 2):
            fn = jax.vmap(fn)
        d2 = fn(a, b)
    return d2 if squared else safe_sqrt(d2)


def _weights(sample_weight, n: int, dtype) -> Array:
    if sample_weight is None:
        return jnp.full((n,), 1.0 / n, dtype)
    w = as_float_array(sample_weight, "sample_weight").astype(dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not is_traced(w) and (np.any(np.asarray(w) < 0) or not np.sum(np.asarray(w)) > 0):
        raise ValueError("sample_weight must be non-negative with a positive sum")
    return w / jnp.sum(w)


def mean_riemann(
    covs: Float[Array, "m n n"],
    *,
    tol: float = 1e-8,
    maxiter: int = 50,
    init: Float[Array, "n n"] | None = None,
    sample_weight: Float[Array, " m"] | None = None,
    return_info: bool = False,
):
    """Affine-invariant Riemannian (Karcher) mean, pyRiemann's ``mean_riemann`` schedule.

    Gradient descent ``M ← M^{1/2} exp(ν J) M^{1/2}`` with ``J = Σ w_i log(M^{-1/2} C_i M^{-1/2})``,
    step ``ν`` shrunk ×0.95 on progress and ×0.5 otherwise, stopped when ``‖J‖_F ≤ tol`` or
    ``ν ≤ tol`` or after ``maxiter`` iterations. ``‖J‖_F`` is dimensionless, so the same data in V
    or in µV take the same iterations and give means differing by exactly the unit factor.

    Arguments:
        covs: SPD matrices ``(n_matrices, n, n)``.
        tol: stopping tolerance (in float32 raised to ``100·eps`` ≈ 1.2e-5, the attainable level).
        maxiter: iteration cap (honoured).
        init: starting point; default the weighted Euclidean mean.
        sample_weight: non-negative weights (normalised to sum 1); default uniform.
        return_info: also return ``(n_iter, final ‖J‖_F, converged)``.

    Returns:
        ``(n, n)`` mean (differentiable w.r.t. ``covs`` and ``sample_weight`` by implicit
        differentiation of the fixed point), plus the info tuple when requested.
    """
    covs = check_covariances(covs, "covs", min_matrices=1)
    w = _weights(sample_weight, covs.shape[0], covs.dtype)
    init = euclid_mean(covs, w) if init is None else check_spd(init, "init").astype(covs.dtype)
    if init.shape != covs.shape[1:]:
        raise ValueError(f"init must have shape {covs.shape[1:]}, got {init.shape}")
    tol_eff = effective_tol(tol, covs.dtype)
    m = karcher_mean(covs, w, init, tol_eff, int(maxiter))
    if return_info:
        _, k, crit, done = karcher_mean_info(covs, w, init, tol_eff, int(maxiter))
        return m, (k, crit, done)
    return m


def geodesic_riemann(a: Float[Array, "n n"], b: Float[Array, "n n"], alpha: float | Array = 0.5) -> Float[Array, "n n"]:
    """Point at ``alpha`` on the affine-invariant geodesic: ``A^{1/2}(A^{-1/2} B A^{-1/2})^α A^{1/2}``."""
    return geodesic(check_spd(a, "a"), check_spd(b, "b"), alpha)


# --------------------------------------------------------------------------- detection


class RiemannScores(NamedTuple):
    """Per-epoch scores: Riemannian ``distance`` to the reference, robust ``zscore`` of its log,
    ``mask`` (True = artifact) and ``soft`` = sigmoid((z − n_std)/temperature), a differentiable
    stand-in for the mask (e.g. to learn ``n_std``)."""

    distance: Array
    zscore: Array
    mask: Array
    soft: Array


def riemann_zscores(
    covs: Float[Array, "m n n"], reference: Float[Array, "n n"], center: Float[Array, ""], scale: Float[Array, ""]
) -> tuple[Array, Array]:
    """Distances ``δ(C_i, reference)`` and robust z-scores ``(log δ_i − center) / scale``."""
    covs = check_covariances(covs, "covs", min_matrices=1)
    reference = check_spd(reference, "reference")
    if reference.shape != covs.shape[1:]:
        raise ValueError(f"reference {reference.shape} does not match the covariances {covs.shape[1:]}")
    d = log_distance(covs, reference, floor=True)
    return jnp.exp(d), (d - center) / scale


def detect_artifacts_riemann(
    covariances: Float[Array, "m n n"],
    n_std: float = 3.0,
    *,
    method: str = "robust",
    n_iter: int = 10,
    return_scores: bool = False,
):
    """Flag artifact epochs by their Riemannian distance to the mean of the clean epochs.

    ``method="robust"`` (default): repeat ``n_iter`` times at most: reference = Karcher mean of the
    epochs still considered clean (warm-started), ``d_i = log δ(C_i, reference)``, robust z-score
    ``z_i = (d_i − median) / (1.4826 · MAD)`` over the clean epochs, remove those with
    ``z_i ≥ n_std``; stop when nothing changes. Flags ``z ≥ n_std`` under the final statistics.
    Unaffected by a cluster of artifacts of up to (almost) half of the epochs, and by the units.

    ``method="potato"``: pyRiemann's ``Potato(threshold=n_std, n_iter_max=100)`` (mean/std
    z-scores); identical labels, but it cannot flag a tight cluster of ≥ 10 % of artifacts.

    Arguments:
        covariances: SPD matrices ``(n_epochs, n_channels, n_channels)``, at least 3 epochs.
        n_std: z-score threshold.
        method: ``"robust"`` or ``"potato"``.
        n_iter: cap on the outer (rejection) iterations of the robust method.
        return_scores: return ``(mask, distance, zscore)`` instead of the mask alone.

    Returns:
        Boolean mask ``(n_epochs,)``, True = artifact (with ``return_scores``, also the Riemannian
        distances to the reference and the z-scores, both ``(n_epochs,)``).
    """
    covs = check_covariances(covariances, "covariances", min_matrices=3)
    if method == "robust":
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be at least 1, got {n_iter}")
        state = robust_fit(
            covs,
            jnp.asarray(n_std, covs.dtype),
            jnp.ones(covs.shape[0], bool),
            n_iter=int(n_iter),
            tol=effective_tol(1e-8, covs.dtype),
            maxiter=50,
        )
        z = state["zscore"]
        mask = z >= n_std
        if return_scores:
            return mask, jnp.exp(state["logdist"]), z
        return mask
    if method == "potato":
        pot = Potato(threshold=float(n_std)).fit(covs)
        z = pot.transform(covs)
        mask = ~(z < n_std)
        if return_scores:
            return mask, jnp.exp(z * pot.std_ + pot.mean_), z
        return mask
    raise ValueError(f"unknown method {method!r}; choose 'robust' or 'potato'")


def detect_artifacts_riemann_field(
    covariance_sets,
    n_std: float = 3.0,
    *,
    p_threshold: float = 0.01,
    method_combination: str = "fisher",
    n_iter: int = 10,
    return_pvalues: bool = False,
):
    """Potato-Field-style detection with robust scores: one robust detector per set of covariances
    (channel groups or frequency bands of the same epochs), per-set p-values ``1 − Φ(z)`` of the
    robust z-scores combined across sets (Fisher or Stouffer, p-values clipped to [1e-10, 1] as in
    pyRiemann's ``PotatoField``); an epoch is an artifact when the combined p-value is
    ``≤ p_threshold``. A localised artifact (one channel group) is caught even when it barely
    moves the covariance of all channels.

    Arguments:
        covariance_sets: sequence of ``(n_epochs, n_i, n_i)`` SPD arrays with the same ``n_epochs``.
        n_std: z threshold of each set's iterative clean-set estimation.
        p_threshold: combined p-value at or below which an epoch is flagged.
        method_combination: ``"fisher"`` or ``"stouffer"``.
        n_iter: cap on each set's rejection iterations.
        return_pvalues: also return the combined p-values.

    Returns:
        Boolean mask ``(n_epochs,)``, True = artifact (and the p-values if asked).
    """
    from ._potato import combine_pvalues

    sets = list(covariance_sets)
    if not sets:
        raise ValueError("covariance_sets must hold at least one set of covariances")
    n = np.shape(sets[0])[0]
    if any(np.shape(c)[0] != n for c in sets):
        raise ValueError(f"every set must hold the same number of epochs ({n}), got {[np.shape(c)[0] for c in sets]}")
    z = jnp.stack([detect_artifacts_riemann(c, n_std, n_iter=n_iter, return_scores=True)[2] for c in sets])
    p = combine_pvalues(jnp.clip(jax.scipy.stats.norm.sf(z), 1e-10, 1.0), method_combination, axis=0)
    mask = ~(p > p_threshold)
    return (mask, p) if return_pvalues else mask


class RiemannDetector(eqx.Module):
    """Riemannian epoch-artifact detector (robust z-scores of log distances to a Karcher mean).

    Construct, then ``fitted = det.fit(x)``; ``fitted(x)`` returns :class:`RiemannScores`.
    ``x`` may be a continuous recording ``(n_channels, n_times)`` (cut into ``epoch_duration``
    epochs at ``sfreq``), epochs ``(n_epochs, n_channels, n_times)`` or covariance matrices
    ``(n_epochs, n_channels, n_channels)`` (any 3-D input with square trailing axes is taken as
    covariances).

    Fields:
        n_std: z threshold, a (learnable) array.
        reference: fitted Karcher mean of the clean epochs ``(n, n)`` (None before ``fit``).
        center, scale: median and ``1.4826·MAD`` of the clean log distances.
        sfreq, epoch_duration, estimator, n_iter, temperature: static configuration.
        max_fit_epochs: if set and more epochs are given to ``fit``, the reference and the
            statistics are estimated on that many epochs drawn without replacement with ``key``
            (default ``PRNGKey(0)``); scoring still covers every epoch. Trades the exact estimator
            for speed on long recordings (the median/MAD of n epochs has ~1/√n relative error).
    """

    n_std: Array
    reference: Array | None = None
    center: Array | None = None
    scale: Array | None = None
    sfreq: float | None = eqx.field(static=True, default=None)
    epoch_duration: float = eqx.field(static=True, default=2.0)
    estimator: str = eqx.field(static=True, default="oas")
    n_iter: int = eqx.field(static=True, default=10)
    temperature: float = eqx.field(static=True, default=0.1)
    max_fit_epochs: int | None = eqx.field(static=True, default=None)
    # Pipeline.trainable_filter exposes only these fields to an optimiser.
    trainable_fields: ClassVar[tuple[str, ...]] = ("n_std",)

    @property
    def n_channels(self) -> int | None:
        """Channels of the fitted reference covariance (``None`` before ``fit``)."""
        return None if self.reference is None else self.reference.shape[-1]

    def __init__(
        self,
        n_std: float | Array = 3.0,
        *,
        sfreq: float | None = None,
        epoch_duration: float = 2.0,
        estimator: str = "oas",
        n_iter: int = 10,
        temperature: float = 0.1,
        max_fit_epochs: int | None = None,
        reference: Array | None = None,
        center: Array | None = None,
        scale: Array | None = None,
    ):
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown covariance estimator {estimator!r}; choose one of {ESTIMATORS}")
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be at least 1, got {n_iter}")
        self.n_std = jnp.asarray(n_std, dtype=jnp.result_type(float))
        self.sfreq = None if sfreq is None else check_sfreq(sfreq)
        self.epoch_duration = float(epoch_duration)
        self.estimator = estimator
        self.n_iter = int(n_iter)
        self.temperature = float(temperature)
        if max_fit_epochs is not None and int(max_fit_epochs) < 3:
            raise ValueError(f"max_fit_epochs must be at least 3, got {max_fit_epochs}")
        self.max_fit_epochs = None if max_fit_epochs is None else int(max_fit_epochs)
        self.reference, self.center, self.scale = reference, center, scale

    def to_covariances(self, x) -> Array:
        """Covariance matrices from a recording, epochs or covariances (see class docstring)."""
        x = as_float_array(x)
        if x.ndim == 2:
            if self.sfreq is None:
                raise ValueError("a continuous recording (n_channels, n_times) needs sfreq= to be cut into epochs")
            return covariances(make_epochs(x, self.sfreq, self.epoch_duration), self.estimator)
        if x.ndim != 3:
            raise ValueError(
                "expected a recording (n_channels, n_times), epochs (n_epochs, n_channels, n_times) or "
                f"covariances (n_epochs, n_channels, n_channels); got shape {x.shape}"
            )
        if x.shape[-1] == x.shape[-2]:
            return x
        return covariances(x, self.estimator)

    def fit(self, x, *, key=None, mask=None) -> "RiemannDetector":
        """Fit the reference mean and the robust statistics.

        ``key`` only draws the fitting subset when ``max_fit_epochs`` is set (otherwise the fit is
        deterministic and ``key`` is ignored). ``mask`` (optional, True = known artifact) excludes
        epochs from the start."""
        covs = check_covariances(self.to_covariances(x), "covariances", min_matrices=3)
        keep0 = jnp.ones(covs.shape[0], bool) if mask is None else ~jnp.asarray(mask, bool)
        if keep0.shape != covs.shape[:1]:
            raise ValueError(f"mask must have shape ({covs.shape[0]},), got {keep0.shape}")
        if self.max_fit_epochs is not None and covs.shape[0] > self.max_fit_epochs:
            key = jax.random.PRNGKey(0) if key is None else key
            idx = jax.random.choice(key, covs.shape[0], (self.max_fit_epochs,), replace=False)
            covs, keep0 = covs[idx], keep0[idx]
        state = robust_fit(
            covs,
            jax.lax.stop_gradient(self.n_std).astype(covs.dtype),
            keep0,
            n_iter=self.n_iter,
            tol=effective_tol(1e-8, covs.dtype),
            maxiter=50,
        )
        # Differentiable reference: implicit derivative of the Karcher mean over the final clean set.
        keep = jax.lax.stop_gradient(state["stats_keep"])
        w = keep.astype(covs.dtype) / jnp.sum(keep)
        ref = karcher_mean(covs, w, jax.lax.stop_gradient(state["mean"]), effective_tol(1e-8, covs.dtype), 50)
        center, scale = robust_center_scale(log_distance(covs, ref, floor=True), keep)
        return eqx.tree_at(
            lambda m: (m.reference, m.center, m.scale),
            self,
            (ref, center, scale),
            is_leaf=lambda v: v is None,
        )

    def __call__(self, x) -> RiemannScores:
        """Score epochs (or covariances) against the fitted reference."""
        if self.reference is None:
            raise ValueError("RiemannDetector is not fitted; call .fit(x) first")
        covs = self.to_covariances(x)
        dist, z = riemann_zscores(covs, self.reference, self.center, self.scale)
        n_std = self.n_std.astype(z.dtype)
        return RiemannScores(dist, z, z >= n_std, jax.nn.sigmoid((z - n_std) / self.temperature))

    def predict_proba(self, x) -> Array:
        """One-sided p-value ``1 − Φ(z)`` of each epoch being clean (Gaussian approximation)."""
        return jax.scipy.stats.norm.sf(self(x).zscore)

