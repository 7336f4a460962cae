from builder.bench.timing import Timing


def test_timing_median_and_interquartile_range():
    timing = Timing([5.0, 1.0, 3.0, 2.0, 4.0])
    assert timing.median == 3.0
    assert timing.iqr == 2.0
    assert Timing([7.0]).iqr == 0.0


def test_two_timings_are_within_noise_exactly_when_their_interquartile_ranges_overlap():
    steady = Timing([1.0, 2.0, 3.0, 4.0, 5.0])  # quartiles 2 and 4
    assert steady.quartiles == (2.0, 4.0)
    assert steady.within_noise_of(Timing([3.0, 4.0, 5.0, 6.0, 7.0]))  # 4-6 touches 2-4
    assert not steady.within_noise_of(Timing([4.0, 5.0, 6.0, 7.0, 8.0]))  # 5-7
    assert Timing([3.9, 4.0, 4.1]).within_noise_of(steady) and steady.within_noise_of(Timing([3.9, 4.0, 4.1]))
