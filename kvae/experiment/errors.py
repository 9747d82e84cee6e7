"""`RunError`: a run that cannot start or did not finish, with what to do."""


class RunError(RuntimeError):
    """A recipe run refused to start or stopped early.

    Its message says why, which files were kept and what to do; a
    recipe's command line (`kvae.experiment.cli`) prints it without a
    traceback and exits with status 1.
    """
