"""Annotation: the terminal labeling session (`stance label`) and its labeling orders."""
