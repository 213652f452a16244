"""bot.out_of_scope: the Mahalanobis distance, the combiner, the folds and the threshold rules."""
import numpy as np

from bot.out_of_scope import (Combiner, Mahalanobis, fit_with_threshold, folds, signal_arrays,
                              threshold_for_best_sum, threshold_for_budget)


def test_mahalanobis_is_the_distance_to_the_nearest_mean():
    rng = np.random.default_rng(0)
    vectors = np.r_[rng.normal(0, 1, (40, 4)), rng.normal(5, 1, (40, 4))]
    labels = np.r_[np.zeros(40, int), np.ones(40, int)]
    model = Mahalanobis.fit(vectors, labels)
    probe = rng.normal(2, 2, (6, 4))
    expected = [min((x - m) @ model.precision @ (x - m) for m in model.means) for x in probe]
    assert np.allclose(model.distance(probe), expected, rtol=1e-4)


def test_combiner_learns_the_direction_and_round_trips():
    rng = np.random.default_rng(1)
    is_oos = np.r_[np.zeros(200, bool), np.ones(40, bool)]
    signals = signal_arrays(np.r_[rng.uniform(0.6, 1, 200), rng.uniform(0.1, 0.6, 40)],
                            np.r_[rng.uniform(0.85, 1, 200), rng.uniform(0.6, 0.9, 40)])
    combiner = Combiner.fit(signals, ("confidence", "similarity"), is_oos)
    score = combiner.probability(signals)
    assert score[is_oos].mean() > 0.5 > score[~is_oos].mean()
    again = Combiner.from_json(combiner.to_json())
    assert np.allclose(again.probability(signals), score)


def test_budget_rule_lets_exactly_the_budget_fall_back():
    scores = np.r_[np.linspace(0, 0.5, 100), np.linspace(0.4, 1.0, 10)]
    is_oos = np.r_[np.zeros(100, bool), np.ones(10, bool)]
    threshold = threshold_for_budget(scores, is_oos, np.zeros(110, bool), 0.02)
    assert (scores[~is_oos] >= threshold).sum() == 2


def test_best_sum_rule_stays_under_its_cap():
    rng = np.random.default_rng(2)
    scores = np.r_[rng.uniform(0, 0.6, 100), rng.uniform(0.3, 1.0, 50)]
    is_oos = np.r_[np.zeros(100, bool), np.ones(50, bool)]
    correct = np.ones(150, bool)
    uncapped = threshold_for_best_sum(scores, is_oos, np.zeros(150, bool), correct, 1.0)
    capped = threshold_for_best_sum(scores, is_oos, np.zeros(150, bool), correct, 0.03)
    assert (scores[~is_oos] >= capped).mean() <= 0.03
    assert (scores[~is_oos] >= uncapped).mean() > 0.03  # the cap mattered here
    # What already falls back counts against the cap.
    fallen = np.r_[np.ones(3, bool), np.zeros(147, bool)]
    assert (fallen | (scores >= threshold_for_best_sum(scores, is_oos, fallen, correct, 0.03)))[~is_oos].mean() <= 0.03


def test_folds_hold_each_out_of_scope_kind_out_whole():
    rng = np.random.default_rng(3)
    kinds = np.repeat(np.arange(15), 4)
    centres = rng.normal(0, 1, (15, 16))
    oos_vectors = centres[kinds] + rng.normal(0, 0.01, (60, 16))
    vectors = np.r_[rng.normal(0, 1, (100, 16)), oos_vectors]
    labels = np.r_[np.repeat(np.arange(5), 20), np.full(60, 9)]
    is_oos = labels == 9
    seen = np.zeros(160, int)
    for train, test in folds(labels, is_oos, vectors, k=5):
        seen[test] += 1
        held = set(kinds[test[is_oos[test]] - 100])
        assert held and held.isdisjoint(kinds[train[is_oos[train]] - 100])
    assert (seen == 1).all()


def test_fit_with_threshold_scores_out_of_fold():
    rng = np.random.default_rng(4)
    is_oos = np.r_[np.zeros(300, bool), np.ones(60, bool)]
    signals = signal_arrays(np.r_[rng.uniform(0.5, 1, 300), rng.uniform(0.1, 0.7, 60)],
                            np.r_[rng.uniform(0.8, 1, 300), rng.uniform(0.6, 0.9, 60)])
    combiner, threshold, out_of_fold = fit_with_threshold(signals, ("confidence", "similarity"), is_oos,
                                                          np.zeros(360, bool), np.ones(360, bool), 0.03)
    assert (out_of_fold[~is_oos] >= threshold).mean() <= 0.03
    assert not np.allclose(out_of_fold, combiner.probability(signals))  # not the final fit's scores
