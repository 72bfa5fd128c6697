"""Queue mode: jobs over RabbitMQ to an inference worker fleet, results back through a relay."""
