"""kequn experiments: training, tuning, segmentation, uplift, evaluation, fairness, tracking."""
