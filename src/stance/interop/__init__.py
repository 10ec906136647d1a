"""Labels in and out of other labeling tools; the labeled data set as a Hugging Face data set."""
