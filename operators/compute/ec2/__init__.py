"""EC2 compute: the user data that boots an instance into the job agent, and its stdlib-only S3 fetcher."""
