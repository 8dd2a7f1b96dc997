"""kequn privacy: Chinese PII detection on Presidio, pseudonymisation, risk and the privacy report."""
