import sys

from joulestream.grid.cli import main

sys.exit(main())
