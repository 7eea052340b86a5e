from asyncreview.cli import entry

entry()
