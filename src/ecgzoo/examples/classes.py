"""The fixed class lists of the built-in tasks and the standard lead names, defined once (a leaf:
importing it is free).

AAMI EC57 beat classes (MIT-BIH, SVDB, the Kaggle CSVs) and the PhysioNet/CinC Challenge 2017
rhythm classes. Everything else (the beat mapping, the registry, the metrics, the challenge
F1) imports them from here.
"""

from __future__ import annotations

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
CHALLENGE_2017_CLASSES: tuple[str, ...] = ("N", "A", "O", "~")

#: The standard 12 leads in their usual order (the 12-lead datasets keep leads by these names).
TWELVE_LEADS: tuple[str, ...] = tuple("I II III aVR aVL aVF V1 V2 V3 V4 V5 V6".split())
