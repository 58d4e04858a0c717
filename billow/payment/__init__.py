"""Payments: payment methods, gateway plugins, Kill Bill's payment state machine, invoice payments, the janitor.

Gateways implement `billow.payment.plugin_api.PaymentPluginApi` and are found through the entry-point group
`billow.payment_plugins` (`billow.payment.plugins.PaymentPluginRegistry`).
"""
