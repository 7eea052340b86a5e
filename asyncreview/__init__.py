"""asyncreview: code review for Python asyncio code."""

__version__ = "0.1.0"
