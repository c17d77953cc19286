"""The job runner that executes where the containers run: stage inputs, run containers, export, write status."""
