"""``python -m snn_deploy``: Ctrl-C is "interrupted" and status 130 from the first import on."""
import sys

from snn_deploy import interrupt  # the standard library only: in place before torch starts importing

interrupt.install()
try:
    from snn_deploy.cli import main
except KeyboardInterrupt:
    interrupt.handled()
    sys.stderr.write("interrupted\n")
    sys.exit(130)

sys.exit(main())
