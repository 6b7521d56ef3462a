"""The Training page's inspections: live curves, decision boundary, confusion, layer summary, flow graph."""
