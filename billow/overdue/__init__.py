"""The overdue service: configuration-driven dunning states that block an account step by step."""
