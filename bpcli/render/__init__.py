"""Everything Rich: tables, trees, progress, plots, and the DOT/JSON/SVG writers."""
