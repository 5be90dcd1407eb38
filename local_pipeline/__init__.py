"""Run the pipeline described by template.yaml on this machine (never deployed)."""
