"""What an anonymous client may send and make the server keep: caps, HTTP, components, sessions."""
