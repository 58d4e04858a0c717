"""Operations that span services: the account export, cache invalidation, the node's rotation, node commands
and plugin information. They sit above the services (`billow.app` builds them) and use the services'
internal APIs, so each service keeps answering for its own tables (docs/architecture.md)."""
