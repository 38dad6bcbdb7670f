"""The service shell around the two pure cores: `db/` (storage), `live/` (the index the app holds),
`batch/` (the re-rank job), `domain/` (use cases), `api/` and `web/` (HTTP), `learning/` (the ranker's
weights); settings, errors, auth, the app and the CLI at the top."""
