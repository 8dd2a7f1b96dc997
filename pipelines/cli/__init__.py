"""The ``kequn`` command line: one module per command, each short (parse, call, report)."""
