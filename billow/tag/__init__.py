"""Tags: definitions (a tenant's own, and Kill Bill's built-in control and system tags) and tags on objects."""
