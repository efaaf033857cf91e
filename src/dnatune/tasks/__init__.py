"""Labelled tasks: read a task's source (user files, public suites, genome annotations), split it, write the task folder."""
