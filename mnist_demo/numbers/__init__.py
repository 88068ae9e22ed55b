"""Whole numbers: a drawing cut into digits (segment, cuts), each read as a lone digit (read)."""
