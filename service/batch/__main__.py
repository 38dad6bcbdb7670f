"""`python -m service.batch --run-id N`: `twinning rerank` as the server starts a run it has queued.

The server spawns its own interpreter with this module rather than looking for the `twinning`
script, so the run uses the server's installation whatever PATH says.
"""

import sys

from service.cli import app

app(["rerank", "--quiet", *sys.argv[1:]], prog_name="twinning")
