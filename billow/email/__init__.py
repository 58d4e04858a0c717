"""Email notifications: customers told of their invoices, payments and overdue states, in their language.

Kill Bill sends these through a separate plugin (`killbill-email-notifications`); Billow does it in the core and
keeps that plugin's contract where a tenant sees it: its per-tenant configuration (the plugin configuration of
`killbill-email-notifications`: SMTP settings and `defaultEvents`), its template names and tenant keys
(`killbill-email-notifications:<TEMPLATE>_<locale>`, Mustache) and its translation bundles
(`killbill-email-notifications:TEMPLATE_TRANSLATION_<locale>`).

What happens: a bus event the tenant switched on records an email (`email_notifications`, audited) and schedules
its sending on the notification queue, in the event's transaction; the queue's handler renders it and sends it over
SMTP outside any transaction, records the outcome, and retries a temporary failure on the tenant's schedule. An
email whose message the SMTP server may have taken when the node died is never sent again (status UNKNOWN).
"""
