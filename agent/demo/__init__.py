"""``facilitywatch demo``: a whole site on one machine — broker, hub, agent and simulated devices.

Every child runs in a process group of its own, so a terminal's Ctrl-C reaches only this process,
which then stops the pieces in order — devices, agent, hub, broker — waiting for each: the agent
gets to finish its last sync while the hub and the broker are still up. A second Ctrl-C stops
waiting and kills what is left.

``launcher`` starts and stops the pieces, ``supervisor`` runs the child processes,
``provisioning`` makes the data directory and the hub's credentials, and ``narration`` prints
what the audience should see.

Errors::

    DemoError  a step of the start-up failed; ``log`` holds the output that says why
"""

from agent.demo.launcher import run_demo
from agent.demo.provisioning import parse_user, prepare_data_dir
from agent.demo.supervisor import DemoError

__all__ = ["DemoError", "parse_user", "prepare_data_dir", "run_demo"]
