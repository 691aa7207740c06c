"""Are two trained networks the same solution? Compare them up to the symmetries of the net.

For a one-hidden-layer sigmoid network ``h = sigmoid(x W1 + b1)``, ``out = f(h W2 + b2)``, two
rearrangements of the hidden units leave the function unchanged:

* permuting the hidden units (columns of W1 and b1, rows of W2);
* "flipping" a unit: ``sigmoid(-z) = 1 - sigmoid(z)``, so negating column j of W1 and b1[j]
  and negating row j of W2 (with ``b2 += W2[j]``) computes the same outputs.

:func:`match_hidden` searches all ``H! * 2^H`` rearrangements (48 for H = 3) for the one that
makes network B's weights most correlated with network A's, and returns that correlation.
:func:`random_baseline` gives the same statistic for unrelated random matrices, so a reader can
tell a meaningful similarity from what the search finds in noise.
"""

from __future__ import annotations

import itertools

import numpy as np


def _flat(W1, W2) -> np.ndarray:
    return np.concatenate([np.ravel(W1), np.ravel(W2)])


def _corr(a, b) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def match_hidden(W1a, W2a, W1b, W2b, flips: bool = True) -> tuple[float, tuple, np.ndarray]:
    """Best Pearson correlation between network A's and B's weights over hidden-unit
    permutations (and sign flips).

    Parameters
    ----------
    W1a, W1b : (n_in, H) input-to-hidden weights.
    W2a, W2b : (H, n_out) hidden-to-output weights.

    Returns
    -------
    (r, perm, signs): the correlation of ``[W1a, W2a]`` with the rearranged ``[W1b, W2b]``,
    where unit ``j`` of A is matched with unit ``perm[j]`` of B multiplied by ``signs[j]``.
    """
    H = W1a.shape[1]
    a = _flat(W1a, W2a)
    best = (-np.inf, None, None)
    sign_sets = itertools.product((1.0, -1.0), repeat=H) if flips else [(1.0,) * H]
    sign_sets = [np.array(s) for s in sign_sets]
    for perm in itertools.permutations(range(H)):
        W1p, W2p = W1b[:, perm], W2b[perm, :]
        for s in sign_sets:
            r = _corr(a, _flat(W1p * s, W2p * s[:, None]))
            if r > best[0]:
                best = (r, perm, s)
    return best


def pairwise_match(W1, W2, flips: bool = True) -> np.ndarray:
    """Best-match correlations of every pair of networks: ``W1 (S, n_in, H)``, ``W2 (S, H, n_out)``
    -> ``(S*(S-1)/2,)``."""
    S = W1.shape[0]
    return np.array([match_hidden(W1[i], W2[i], W1[j], W2[j], flips)[0]
                     for i in range(S) for j in range(i + 1, S)])


def random_baseline(n_in: int, H: int, n_out: int, pairs: int = 100, seed: int = 0) -> float:
    """Mean best-match correlation of ``pairs`` pairs of independent N(0, 1) weight sets of the
    same shapes (what the search finds when there is nothing to find)."""
    rng = np.random.default_rng(seed)
    vals = [match_hidden(rng.normal(size=(n_in, H)), rng.normal(size=(H, n_out)),
                         rng.normal(size=(n_in, H)), rng.normal(size=(H, n_out)))[0] for _ in range(pairs)]
    return float(np.mean(vals))


def binary_codes(hidden) -> list[tuple[int, ...]]:
    """The hidden layer's code for each pattern, thresholded at 0.5: ``hidden (n, H)`` -> n tuples."""
    return [tuple(int(v > 0.5) for v in row) for row in np.asarray(hidden)]
