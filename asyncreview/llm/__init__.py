"""The optional LLM reviewer. Importing this package is cheap: `anthropic` is imported only by the
orchestrator, when the stage actually runs."""
