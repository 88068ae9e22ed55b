"""What the app keeps for its visitors, without Gradio: sessions, the trainer and its line."""
