"""The batch re-ranking job: its lock, its blocks (scored here, in forked workers or on Dask) and its runs."""
