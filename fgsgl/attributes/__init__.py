"""FG-Text attributes for datasets that ship none: the vocabulary of legal values, skeleton
layouts, attributes derived from keypoints, and class-level tables (fgsgl.attributes.*)."""
