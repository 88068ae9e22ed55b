"""How honest a model is: the verdict's thresholds chosen on validation, and held-out reports."""
