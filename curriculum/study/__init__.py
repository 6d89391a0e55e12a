"""Studies as configs (conf/studies/*.yaml), run by `python -m curriculum study study=NAME`: the plan and its
schema (plan.py), the runs it still needs (runner.py), cleanlab's verdicts for the label-noise study
(cross_validation.py) and the sections of docs/results.md rendered from the outputs (sections/)."""
