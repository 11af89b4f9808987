import sys

from emitter.cli import main

sys.exit(main())
