"""`python ingest.py ARGS` is `newsdesk ingest ARGS`."""

import sys

from newsdesk.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
