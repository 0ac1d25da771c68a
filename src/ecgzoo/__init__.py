"""ecgzoo: deep-learning ECG arrhythmia classifiers on real PhysioNet data."""

__version__ = "0.1.0"
