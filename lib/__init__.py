"""Prompt Workbench's library: every screen, route, CLI command and worker calls into its subpackages."""
