"""The payment plugins Billow ships: `__EXTERNAL_PAYMENT__` and `killbill-payment-test`."""
