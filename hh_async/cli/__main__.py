"""``python -m hh_async.cli``: the ``hh-async`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
