"""Pure code that only the EC2 backend needs: launch settings, launch requests, errors, job documents."""
