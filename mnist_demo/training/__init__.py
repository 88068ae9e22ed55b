"""Training: the options table, the one loop and its step, progress, evaluation, fine-tuning."""
