// The web client: filled in by the next commit.
