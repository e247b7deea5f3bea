"""Real parts for tests: a private Mosquitto, a hub served by uvicorn, free ports."""
