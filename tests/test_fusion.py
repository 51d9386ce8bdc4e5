import pytest

from assistant.errors import ConfigError
from assistant.fusion import FusionWeights, fuse


def test_rrf_adds_weighted_reciprocal_ranks() -> None:
    fused = dict(fuse([("a", 0.9), ("b", 0.8)], [("b", 12.0), ("c", 3.0)], FusionWeights(dense=1.0, lexical=0.5, k=10)))
    assert fused["a"] == pytest.approx(1 / 11)
    assert fused["b"] == pytest.approx(1 / 12 + 0.5 / 11)
    assert fused["c"] == pytest.approx(0.5 / 12)


def test_rrf_ranks_an_item_found_by_both_sides_first() -> None:
    ranked = [item for item, _ in fuse([("a", 0.9), ("b", 0.8)], [("b", 12.0), ("c", 3.0)], FusionWeights())]
    assert ranked == ["b", "a", "c"]


def test_zscore_keeps_score_gaps_that_rank_fusion_loses() -> None:
    # dense: a far ahead of b; lexical: b barely ahead of a. RRF with equal weights ties them and
    # falls back to the dense order; z-scores let a's large dense lead win outright.
    dense = [("a", 0.95), ("b", 0.70), ("c", 0.69), ("d", 0.68)]
    lexical = [("b", 10.1), ("a", 10.0), ("c", 1.0), ("d", 0.9)]
    fused = fuse(dense, lexical, FusionWeights(method="zscore"))
    assert fused[0][0] == "a" and fused[0][1] > fused[1][1]
    assert min(score for _, score in fused) == 0.0  # shifted to ≥ 0, so per-document sums stay meaningful


def test_zscore_gives_a_missing_side_its_lowest_score() -> None:
    fused = dict(fuse([("a", 0.9), ("b", 0.5)], [("c", 5.0), ("a", 4.0), ("d", 0.0)], FusionWeights(method="zscore")))
    assert fused["a"] > fused["c"] > fused["b"]  # b: dense only, so it takes the lowest lexical score


def test_a_second_embedders_list_adds_its_own_weighted_ranks() -> None:
    dense, lexical, second = [("a", 0.9), ("b", 0.8)], [("b", 12.0)], [("c", 0.7), ("a", 0.6)]
    fused = dict(fuse(dense, lexical, FusionWeights(dense=1.0, lexical=0.5, second=2.0, k=10), second))
    assert fused["a"] == pytest.approx(1 / 11 + 2.0 / 12)
    assert fused["c"] == pytest.approx(2.0 / 11)  # found by the second embedder only
    assert fuse(dense, lexical, FusionWeights(), ()) == fuse(dense, lexical, FusionWeights())
    standardised = dict(fuse(dense, lexical, FusionWeights(method="zscore", second=1.0), second))
    assert standardised["a"] > standardised["b"] and "c" in standardised
    assert min(standardised.values()) == 0.0  # shifted to ≥ 0 with three lists too


def test_empty_sides() -> None:
    assert fuse([], [], FusionWeights()) == []
    assert [i for i, _ in fuse([("a", 0.5)], [], FusionWeights(method="zscore"))] == ["a"]


@pytest.mark.parametrize("bad", [dict(dense=-1), dict(dense=0, lexical=0), dict(second=-1), dict(k=0), dict(depth=0), dict(method="max")])
def test_bad_weights_name_the_value(bad: dict) -> None:
    with pytest.raises(ConfigError):
        FusionWeights(**bad)
