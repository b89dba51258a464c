"""Energy stage: operation counts from measured activity, priced with hardware profiles, against ANN baselines. Imports no simulator."""
