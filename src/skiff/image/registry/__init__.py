"""Distribution API v2 client: endpoints, authentication (Bearer token + basic), manifests, blobs."""
