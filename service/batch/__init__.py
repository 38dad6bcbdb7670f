"""The batch re-ranking job: its lock, its blocks (scored here, in forked workers or on Dask), its runs, the
process a run started from the server runs in, and the recovery of runs whose owner died."""
