"""`make bench`: performance budgets of the pipeline, measured on this machine."""
