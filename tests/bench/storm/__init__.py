"""The alert-storm benchmark (issue 8): load, receiver, systems, observation, report."""
