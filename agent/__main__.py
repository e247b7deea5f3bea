"""``python -m agent``: the ``facilitywatch`` command, for a Python without the script on PATH."""

from agent.cli import main

if __name__ == "__main__":
    main(prog_name="facilitywatch")
