"""The Slack side: the Bolt app, its listeners, replies, the digest post and the server."""
