"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class UserError(ValueError):
    """Bad input or a state the user can fix; the message names the value and the fix."""
