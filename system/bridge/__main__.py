import sys

from system.bridge.cli import main

sys.exit(main())
