"""Values and helpers every part of Discomy shares: sizes and counts (``units``),
package names from NVRs with koji's parsers (``nvr``), paths made absolute at the
command-line and config boundary (``paths``), settings sections checked for
unknown keys (``settings``), and module builds as the REST API's clients show them
(``modulebuilds``: their states, their lines and tables, the koji profile keys that
find the orchestrator).

Standard library and koji only; it imports nothing else of Discomy.
"""
