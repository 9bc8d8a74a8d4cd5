"""Figure helpers that decide what a reader sees written."""

from grokkit.book.plots import level_labels


def test_level_labels_show_every_level_exactly_with_one_number_of_decimals():
    assert level_labels([0.85, 0.925, 1.0, 1.05]) == ["0.850", "0.925", "1.000", "1.050"]
    assert level_labels([0.3, 1, 3]) == ["0.3", "1.0", "3.0"]
    assert level_labels([1, 2, 4]) == ["1", "2", "4"]
