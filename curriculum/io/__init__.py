"""Files and records shared by the stages: score files, where scores come from (paths, MLflow runs, imported
formats), atomic writes, and MLflow tracking."""
