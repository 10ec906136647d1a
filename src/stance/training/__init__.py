"""Training stage: data, model registry, features, folds, metrics, fits, evaluation, results."""
