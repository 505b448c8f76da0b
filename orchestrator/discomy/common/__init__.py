"""Values and helpers every part of Discomy shares: sizes and counts (``units``),
paths made absolute at the command-line and config boundary (``paths``), and
settings sections checked for unknown keys (``settings``).

Standard library only; it imports nothing else of Discomy.
"""
