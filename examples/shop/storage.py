"""Sync helpers the async service calls: blocking I/O hides one call deeper."""

import json


def _read(path):
    with open(path) as handle:
        return handle.read()


def load_catalogue(path):
    return json.loads(_read(path))


def audit_log(path, line):
    log = open(path, "a")  # never closed if write() raises
    log.write(line + "\n")
    log.close()
