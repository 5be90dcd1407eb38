"""Prompts as versioned text files (read with importlib.resources).

``summary/v1/`` holds the abstractive summary's prompts. A changed prompt is a new
version folder, never an edit of a released one: the version is recorded with every
summary (ModelUsage.prompt_version), so a summary can be traced to the words that asked
for it.
"""
