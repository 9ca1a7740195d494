"""The language-model call audit log and stored classifiers arrive with the classification issue."""
