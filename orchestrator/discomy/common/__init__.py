"""Values and helpers every part of Discomy shares: sizes and counts (``units``),
package names from NVRs with koji's parsers (``nvr``), paths made absolute at the
command-line and config boundary (``paths``), and settings sections checked for
unknown keys (``settings``).

Standard library and koji only; it imports nothing else of Discomy.
"""
