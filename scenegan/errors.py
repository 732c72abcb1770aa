"""The one exception a user can cause: the CLI prints its message on one line and exits 1."""


class UserError(Exception):
    """Bad input or state the user can fix (missing file, wrong checkpoint, no API key, ...).

    Library code raises it with a message that says what to do; `scenegan.cli.main` turns it
    into `error: <message>` on stderr and exit status 1, never a traceback.
    """
