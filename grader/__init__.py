"""grader: the autograder of a deep-learning course."""
