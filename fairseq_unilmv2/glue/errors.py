"""The one error type of the GLUE commands: bad input or arguments, which the CLI prints as one
message (naming the file and line, and what to do) with exit status 2."""


class GlueError(Exception):
    """Bad input or arguments that the user must fix."""
