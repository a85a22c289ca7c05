"""Identity: API keys now; KYC, PII vault, credentials, sessions and audit (issue 3)."""
