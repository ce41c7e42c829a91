"""Runs: a configuration value, `run(config)`, and one result schema for every method."""
