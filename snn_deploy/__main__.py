import sys

from snn_deploy.cli import main

sys.exit(main())
