"""skiffd: the composition root. Reads config, builds stores, drivers and services, serves the API."""
