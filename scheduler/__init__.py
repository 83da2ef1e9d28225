"""Middle floor: chat plans, the pure timeline, and the runner that fires it."""
