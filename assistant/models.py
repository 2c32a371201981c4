"""The assistant's conversations and post-discharge check-ins."""
