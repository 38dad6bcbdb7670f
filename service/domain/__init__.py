"""Use cases, one module each, called by the API, the workspace pages and the CLI alike."""
