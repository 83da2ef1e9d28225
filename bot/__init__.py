"""Top floor: the running program (config, CLI, app wiring, platform adapters)."""
