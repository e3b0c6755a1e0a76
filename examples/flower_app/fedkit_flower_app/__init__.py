"""A Flower App running fedkit's strategies: ``flwr run`` locally or on real SuperNodes."""
