"""Are two trained networks the same solution? Compare them up to the symmetries of the net.

For a one-hidden-layer sigmoid network ``h = sigmoid(x W1 + b1)``, ``out = f(h W2 + b2)``, two
rearrangements of the hidden units leave the function unchanged:

* permuting the hidden units (columns of W1 and b1, rows of W2);
* "flipping" a unit: ``sigmoid(-z) = 1 - sigmoid(z)``, so negating column j of W1 and b1[j]
  and negating row j of W2 (with ``b2 += W2[j]``) computes the same outputs.

:func:`match_hidden` searches all ``H! * 2^H`` rearrangements (48 for H = 3) for the one that
makes network B's weights most correlated with network A's, and returns that correlation.

What value means "alike"? Random matrices are the wrong reference: every trained solution has
structure (large weights, negative output biases), so two unrelated *solutions* correlate more
than two random matrices do. :func:`relabelled_null` gives the right one for the identity
autoencoder: the task and the N(0, s^2) initialization are unchanged when the patterns are
relabelled (rows of W1 and columns of W2 permuted alike), so network B with its patterns
relabelled is an equally good, equally structured solution that is *unrelated* to A by
construction. If A and B (independent runs) are more alike than A and relabelled copies of B,
they found related solutions; if not, they found different ones. :func:`random_baseline` (random
matrices) is kept as the floor that shows how much structure all solutions share.
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


def _rearrangements(H: int, flips: bool = True) -> list[tuple[tuple, np.ndarray]]:
    """Every ``(perm, signs)`` of ``H`` hidden units: ``H!`` permutations x ``2^H`` sign sets."""
    sign_sets = [np.array(s) for s in itertools.product((1.0, -1.0), repeat=H)] if flips else [np.ones(H)]
    return [(perm, s) for perm in itertools.permutations(range(H)) for s in sign_sets]


def _standardized(v: np.ndarray) -> np.ndarray:
    """Rows (last axis) centred and scaled to unit norm (zero rows stay zero)."""
    v = v - v.mean(axis=-1, keepdims=True)
    norm = np.sqrt((v * v).sum(axis=-1, keepdims=True))
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _arranged(W1b, W2b, arrangements) -> np.ndarray:
    """``W1b (..., n_in, H)``, ``W2b (..., H, n_out)`` -> ``(..., R, n_in*H + H*n_out)``: B's weights
    flattened under each of the ``R`` rearrangements."""
    rows = [np.concatenate([(W1b[..., :, list(perm)] * s).reshape(W1b.shape[:-2] + (-1,)),
                            (W2b[..., list(perm), :] * s[:, None]).reshape(W2b.shape[:-2] + (-1,))], axis=-1)
            for perm, s in arrangements]
    return np.stack(rows, axis=-2)


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
    arrangements = _rearrangements(W1a.shape[1], flips)
    r = _standardized(_arranged(np.asarray(W1b, float), np.asarray(W2b, float), arrangements)) \
        @ _standardized(_flat(W1a, W2a).astype(float))
    best = int(np.argmax(r))
    return float(r[best]), arrangements[best][0], arrangements[best][1]


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


def relabel_patterns(W1, W2, perm) -> tuple[np.ndarray, np.ndarray]:
    """The network with its patterns relabelled: pattern ``c`` becomes pattern ``perm[c]``.

    For the identity task (input ``c`` one-hot, target ``c`` one-hot) this maps a solution to
    another solution of the same quality: ``W1 (n, H)`` rows and ``W2 (H, n)`` columns (and the
    output biases, not used here) are permuted alike."""
    perm = np.asarray(perm)
    return W1[perm, :], W2[:, perm]


def relabelled_null(W1, W2, draws: int = 100, seed: int = 0, flips: bool = True) -> np.ndarray:
    """Best-match correlations of independent runs when they are *unrelated* by construction.

    For each pair ``(i, j)`` of the ``S`` networks (``W1 (S, n, H)``, ``W2 (S, H, n)``, the
    same pair order as :func:`pairwise_match`) and each of ``draws`` random relabellings ``p``
    of the ``n`` patterns (never the identity): ``match_hidden(A=i, B=j relabelled by p)``.

    Returns ``(pairs, draws)``: row ``k`` is the null distribution of pair ``k``'s value in
    :func:`pairwise_match`; ``null.mean(axis=0)`` is the null distribution of their mean.
    """
    rng = np.random.default_rng(seed)
    S, n, H = W1.shape
    arrangements = _rearrangements(H, flips)
    out = []
    for i in range(S):
        a = _standardized(_flat(W1[i], W2[i]).astype(float))
        for j in range(i + 1, S):
            perms = []
            while len(perms) < draws:
                perm = rng.permutation(n)
                if not np.array_equal(perm, np.arange(n)):
                    perms.append(perm)
            perms = np.array(perms)                                     # (D, n)
            W1b = np.asarray(W1[j], float)[perms]                           # (D, n, H): rows relabelled
            W2b = np.take_along_axis(np.asarray(W2[j], float)[None], perms[:, None, :], axis=2)  # (D, H, n)
            out.append((_standardized(_arranged(W1b, W2b, arrangements)) @ a).max(axis=-1))
    return np.array(out).reshape(-1, draws)
