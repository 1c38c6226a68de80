"""`python bot.py` is `newsdesk bot`: the Discord front end."""

import sys

from newsdesk.cli import main

if __name__ == "__main__":
    sys.exit(main(["bot", *sys.argv[1:]]))
