"""Vectors and profiles to ranked, explained suggestions. Pure numpy, scikit-learn and scipy."""
