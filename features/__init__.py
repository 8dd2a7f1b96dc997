"""kequn features: the feature registry and point-in-time builders for customer features and labels."""
