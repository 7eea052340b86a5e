"""A call a test plugin's deliberately wrong fix rewrites (tests/test_fix_corpus.py)."""


def breaks():
    breakme()
