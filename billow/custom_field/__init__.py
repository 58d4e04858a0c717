"""Custom fields: name/value pairs a caller attaches to accounts, bundles, subscriptions, invoices, ..."""
