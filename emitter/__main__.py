import sys

from joulestream.cli import main

sys.exit(main())
