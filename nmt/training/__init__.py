"""The training machinery, in the order a run meets it: the run folder (rundir.py), the processes and
device (distributed.py), the loss and optimiser (objective.py), one update (update.py), validation
(validate.py), what the user sees (progress.py) and the loop that ties them (trainer.py)."""
