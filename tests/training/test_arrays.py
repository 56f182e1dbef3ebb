import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from training.arrays import distinct_sorted


@given(arrays(np.int64, st.integers(0, 300), elements=st.integers(-(2**63), 2**63 - 1)))
def test_distinct_sorted_is_numpys_unique_for_int64(values):
    got = distinct_sorted(values)
    assert got.dtype == values.dtype
    assert np.array_equal(got, np.unique(values))


@given(arrays(np.uint32, st.integers(0, 300), elements=st.integers(0, 20)))
def test_distinct_sorted_is_numpys_unique_with_many_repeats(values):
    assert np.array_equal(distinct_sorted(values), np.unique(values))


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], []), ([5], [5]), ([3, 3, 3], [3]), ([9, -1, 9, 0, -1], [-1, 0, 9])],
)
def test_distinct_sorted_cases(values, expected):
    assert distinct_sorted(np.array(values, dtype=np.int64)).tolist() == expected


def test_distinct_sorted_leaves_its_input_alone():
    values = np.array([3, 1, 2, 1], dtype=np.int64)
    distinct_sorted(values)
    assert values.tolist() == [3, 1, 2, 1]
