"""Push notifications: bus events POSTed to the callback URLs a tenant registered."""
