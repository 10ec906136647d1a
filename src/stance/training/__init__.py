"""Training stage: data, model registry, features, folds, fits, evaluation, results, model files."""
