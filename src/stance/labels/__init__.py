"""Label stage: schema, label files and validation, final labels, agreement, the data set."""
