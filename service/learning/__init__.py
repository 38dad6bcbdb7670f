"""The learned ranker's weights: training on `data/eval/` and feedback, and evaluating suggestion quality."""
