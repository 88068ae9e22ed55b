"""Made-up inputs: drawing-like digits, non-digits, coarse scans and hand-made templates."""
