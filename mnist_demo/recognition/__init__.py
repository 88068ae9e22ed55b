"""Recognising a drawing: the model, its weights file, preprocessing, the verdict and prediction."""
