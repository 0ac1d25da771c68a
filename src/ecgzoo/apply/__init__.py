"""Apply a trained model to new recordings: detect, classify, score, write (issue 13)."""
