"""Test harnesses for the real parts (JACK, the daemon as a process)."""
