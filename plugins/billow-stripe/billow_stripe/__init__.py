"""Billow's Stripe payment gateway: see `billow_stripe.plugin`."""
