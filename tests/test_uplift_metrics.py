"""Uplift metrics against a 10-row example worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import uplift_metrics as um

# Ten customers, already sorted by score (highest first):
#   row  score  t  y | N_t N_c Y_t Y_c |  Qini Q(n)           uplift U(n)
#    1    0.9   1  1 |  1   0   1   0  |  1 (N_c = 0: 1 - 0)   0 (control empty)
#    2    0.8   0  0 |  1   1   1   0  |  1                    (1 - 0) * 2   = 2
#    3    0.7   1  1 |  2   1   2   0  |  2                    (1 - 0) * 3   = 3
#    4    0.6   1  0 |  3   1   2   0  |  2                    (2/3 - 0) * 4 = 8/3
#    5    0.5   0  1 |  3   2   2   1  |  2 - 1*3/2 = 1/2      (2/3 - 1/2) * 5 = 5/6
#    6    0.4   0  0 |  3   3   2   1  |  2 - 1 = 1            (2/3 - 1/3) * 6 = 2
#    7    0.3   1  0 |  4   3   2   1  |  2 - 4/3 = 2/3        (1/2 - 1/3) * 7 = 7/6
#    8    0.2   0  1 |  4   4   2   2  |  0                    0
#    9    0.1   1  0 |  5   4   2   2  |  2 - 2*5/4 = -1/2     (2/5 - 1/2) * 9 = -9/10
#   10    0.0   0  0 |  5   5   2   2  |  0                    0
# Qini area (trapezoids, step 0.1, from (0,0)): 0.05 * (1+2+3+4+2.5+1.5+5/3+2/3-0.5-0.5) = 23/30.
# Random line ends at Q(10) = 0, so its area is 0 and the model's gain is 23/30.
# Perfect order (score y*t - y*(1-t)): block {1,3} -> Q=2 at x=0.2; block of zeros -> Q=2 at
# x=0.8 (N_t=5, N_c=3, Y_c=0); block {5,8} -> Q=0 at x=1. Area 0.2 + 1.2 + 0.2 = 1.6.
# Normalised Qini = (23/30) / 1.6 = 23/48.
# Uplift area: 0.05 * (0+2+5+17/3+7/2+17/6+19/6+7/6-9/10-9/10) = 323/300; AUUC = area / 10 = 323/3000.
# Uplift at 30%: top 3 = rows 1-3: treated {1,3} rate 1, control {2} rate 0 -> 1.
# Uplift at 50%: top 5: treated {1,3,4} rate 2/3, control {2,5} rate 1/2 -> 1/6.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
T = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0])
Y = np.array([1, 0, 1, 0, 1, 0, 0, 1, 0, 0])


def test_qini_curve_matches_hand_computation():
    x, q = um.qini_curve(Y, T, SCORE)
    assert np.allclose(x, np.linspace(0, 1, 11))
    assert np.allclose(q, [0, 1, 1, 2, 2, 0.5, 1, 2 / 3, 0, -0.5, 0])


def test_uplift_curve_matches_hand_computation():
    _, u = um.uplift_curve(Y, T, SCORE)
    assert np.allclose(u, [0, 0, 2, 3, 8 / 3, 5 / 6, 2, 7 / 6, 0, -0.9, 0])


def test_qini_coefficient_and_auuc():
    assert um.qini_coefficient(Y, T, SCORE) == pytest.approx(23 / 48)
    assert um.qini_coefficient(Y, T, SCORE, normalise=False) == pytest.approx(23 / 300)
    assert um.auuc(Y, T, SCORE) == pytest.approx(323 / 3000)


def test_row_order_does_not_matter():
    perm = np.random.default_rng(0).permutation(10)
    assert um.qini_coefficient(Y[perm], T[perm], SCORE[perm]) == pytest.approx(23 / 48)


def test_uplift_at_k():
    assert um.uplift_at_k(Y, T, SCORE, 0.3) == pytest.approx(1.0)
    assert um.uplift_at_k(Y, T, SCORE, 0.5) == pytest.approx(1 / 6)
    assert math.isnan(um.uplift_at_k(Y, T, SCORE, 0.1))  # top 1 holds no control customer
    with pytest.raises(ValueError):
        um.uplift_at_k(Y, T, SCORE, 0)


def test_perfect_and_reversed_orderings():
    perfect = Y * T - Y * (1 - T)
    assert um.qini_coefficient(Y, T, perfect) == pytest.approx(1.0)
    assert um.qini_coefficient(Y, T, -perfect) < 0


def test_ties_are_one_block():
    # A constant score is a single block: the curve is the random line, coefficient 0.
    x, q = um.qini_curve(Y, T, np.zeros(10))
    assert list(x) == [0.0, 1.0]
    assert um.qini_coefficient(Y, T, np.zeros(10)) == pytest.approx(0.0)


def test_uplift_by_decile_table():
    table = um.uplift_by_decile(Y, T, SCORE, bins=5)
    assert table["n"].tolist() == [2, 2, 2, 2, 2]
    assert table["n_treated"].tolist() == [1, 2, 0, 1, 1]
    assert table["n_control"].tolist() == [1, 0, 2, 1, 1]
    assert table["response_rate_treated"].iloc[0] == 1.0
    assert table["response_rate_control"].iloc[0] == 0.0
    assert table["observed_uplift"].iloc[0] == 1.0
    assert math.isnan(table["observed_uplift"].iloc[1])  # no control customer in the block
    assert table["response_rate_control"].iloc[2] == 0.5
    assert table["mean_predicted_uplift"].iloc[0] == pytest.approx(0.85)


def test_bad_inputs():
    with pytest.raises(ValueError):
        um.qini_curve(Y, np.full(10, 2), SCORE)
    with pytest.raises(ValueError):
        um.auuc(Y[:5], T, SCORE)
