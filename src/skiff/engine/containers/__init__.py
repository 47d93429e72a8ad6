"""Container services of the engine; ``spec`` turns a create config into an OCI runtime spec."""
