"""The app's tabs and panels: Draw, Inside, Retrain, teach-your-handwriting, Evaluate."""
