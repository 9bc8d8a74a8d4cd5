"""Figure helpers that decide what a reader sees written."""

from grokkit.book.plots import level_labels


def test_level_labels_show_every_level_exactly_with_one_number_of_decimals():
    assert level_labels([0.85, 0.925, 1.0, 1.05]) == ["0.850", "0.925", "1.000", "1.050"]
    assert level_labels([0.3, 1, 3]) == ["0.3", "1.0", "3.0"]
    assert level_labels([1, 2, 4]) == ["1", "2", "4"]


def test_the_papers_crosses_sit_at_the_right_edge_or_where_their_arm_ends():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd

    from grokkit.book.plots import PAPER_MARKER, norm_by_arm

    runs = pd.DataFrame({"key": ["a", "b", "c"], "arm": ["short", "short", "long"], "final_step": [4000, 6000, 50000],
                         "t_mem": [np.nan] * 3, "t_grok": [np.nan] * 3, "status": ["censored"] * 3})
    traj = pd.DataFrame({"key": np.repeat(["a", "b", "c"], 2), "step": [0, 4000, 0, 6000, 0, 50000],
                         "sq_norm_all": [10.0, 5.0, 10.0, 5.0, 10.0, 1.0]})
    arms = [(runs["arm"] == "short", "short", "C0"), (runs["arm"] == "long", "long", "C1")]
    paper = {"short": 3.0, "long": 0.5}

    def crosses(fig):
        marker = PAPER_MARKER.get("marker", "x")
        return {float(line.get_ydata()[0]): float(line.get_xdata()[0]) for line in fig.axes[0].lines
                if line.get_marker() == marker and len(line.get_xdata()) == 1}

    assert crosses(norm_by_arm(traj, runs, arms, paper=paper)) == {3.0: 50000.0, 0.5: 50000.0}
    assert crosses(norm_by_arm(traj, runs, arms, paper=paper, paper_at_arm_end=True)) == {3.0: 5000.0, 0.5: 50000.0}
