"""Usage: recording raw usage (high volume) and rating it for the invoice generator (Kill Bill's usage module and
in-arrear usage invoicing)."""
