"""The service shell: settings, storage, HTTP API, jobs and CLI around the two pure cores."""
