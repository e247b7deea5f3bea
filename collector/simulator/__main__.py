"""``python -m collector.simulator``: publish the demo hospital to a broker until Ctrl-C."""

from collector.simulator.publisher import main

raise SystemExit(main())
