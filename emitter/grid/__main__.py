import sys

from emitter.grid.cli import main

sys.exit(main())
